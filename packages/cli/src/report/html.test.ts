import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeReport } from './html.js';
import { syntheticReportInput } from './testing.js';

describe('writeReport', () => {
  let runDir: string;
  beforeEach(() => {
    runDir = join(mkdtempSync(join(tmpdir(), 'graft-report-')), 'run-1');
  });
  afterEach(() => rmSync(join(runDir, '..'), { recursive: true, force: true }));

  it('writes a self-contained report.html and the three PNGs, and no temp files', async () => {
    const files = await writeReport(runDir, syntheticReportInput());
    expect(readdirSync(runDir).sort()).toEqual(['confusion.png', 'curves.png', 'report.html', 'samples.png']);
    expect(files).toEqual({
      html: join(runDir, 'report.html'),
      curves: join(runDir, 'curves.png'),
      confusion: join(runDir, 'confusion.png'),
      samples: join(runDir, 'samples.png'),
    });
    for (const png of [files.curves!, files.confusion!, files.samples!]) expect((await sharp(png).metadata()).format).toBe('png');

    const html = readFileSync(files.html, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.match(/<section id="(\w+)">/g)).toEqual(
      ['config', 'curves', 'metrics', 'classification', 'confusion', 'samples'].map((id) => `<section id="${id}">`),
    );
    // Nothing is fetched: no scripts, stylesheets or images from elsewhere.
    expect(/<script|<link|src="(?!data:)/.test(html)).toBe(false);
    expect(html.match(/<img [^>]*src="data:image\/png;base64,/g)).toHaveLength(7);
    expect(html.includes('<td>data.dir</td><td>/data/pets</td>')).toBe(true);
    expect(html.includes('<td>bird &lt;&amp;&gt;</td>')).toBe(true);
    expect(html.includes('<title>graft run run-1</title>')).toBe(true);
  });

  it('leaves out the parts a run does not have', async () => {
    const input = syntheticReportInput();
    const files = await writeReport(runDir, { config: input.config, records: input.records, classes: input.classes });
    expect(readdirSync(runDir).sort()).toEqual(['curves.png', 'report.html']);
    expect(files.confusion).toBeUndefined();
    const html = readFileSync(files.html, 'utf8');
    expect(html.includes('<section id="confusion">')).toBe(false);
    expect(html.includes('<section id="samples">')).toBe(false);
  });
});
