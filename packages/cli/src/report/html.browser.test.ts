/**
 * Opens a report in a real headless Chromium (Debian's, installed by scripts/setup-chromium.sh) and
 * checks that every chart rendered: inline SVGs laid out with their marks and text, images decoded.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fineTuningLabel } from './charts.js';
import { writeReport } from './html.js';
import { syntheticConfusion, syntheticReportInput } from './testing.js';

const chromiumPath = process.env.GRAFT_CHROMIUM ?? '/usr/bin/chromium';

describe('report.html in headless Chromium', () => {
  let dir: string;
  let browser: Browser;
  beforeAll(async () => {
    if (!existsSync(chromiumPath)) {
      throw new Error(`${chromiumPath} not found: the report browser test needs Chromium. Run scripts/setup-chromium.sh (as root), or set GRAFT_CHROMIUM to a Chromium executable.`);
    }
    dir = mkdtempSync(join(tmpdir(), 'graft-report-browser-'));
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
  });
  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('renders the curves, the confusion matrix and the sample images', async () => {
    const files = await writeReport(join(dir, 'run'), syntheticReportInput());
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const failedRequests: string[] = [];
    const pageErrors: string[] = [];
    page.on('requestfailed', (request) => failedRequests.push(request.url().slice(0, 80)));
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(pathToFileURL(files.html).href, { waitUntil: 'load' });

    const svgs = await page.$$eval('section svg.marks', (elements) =>
      elements.map((svg) => {
        const box = svg.getBoundingClientRect();
        const section = svg.closest('section')!.id;
        const texts = Array.from(svg.querySelectorAll('text'), (t) => t.textContent ?? '');
        const marks = (selector: string) =>
          Array.from(svg.querySelectorAll(selector)).map((g) => {
            const paths = Array.from(g.querySelectorAll('path, line'));
            const b = (g as SVGGraphicsElement).getBBox();
            return { items: paths.length, width: b.width, height: b.height };
          });
        return {
          section,
          width: box.width,
          height: box.height,
          texts,
          lines: marks('g.mark-line.role-mark'),
          rules: marks('g.mark-rule.role-mark'),
          rects: marks('g.mark-rect.role-mark'),
        };
      }),
    );
    expect(svgs.map((s) => s.section)).toEqual(['curves', 'confusion']);
    for (const svg of svgs) {
      expect(svg.width).toBeGreaterThan(300);
      expect(svg.height).toBeGreaterThan(150);
    }

    const [curves, confusion] = svgs;
    // Train and validation in each of the two panels, each a drawn line with extent in both directions.
    expect(curves!.lines).toHaveLength(4);
    for (const line of curves!.lines) {
      expect(line.width).toBeGreaterThan(50);
      expect(line.height).toBeGreaterThan(10);
    }
    // The unfreeze rule in both panels: vertical, so tall and (nearly) no width.
    expect(curves!.rules).toHaveLength(2);
    for (const rule of curves!.rules) expect(rule.height).toBeGreaterThan(100);
    expect(curves!.texts.filter((t) => t === fineTuningLabel)).toHaveLength(2);
    expect(curves!.texts).toEqual(expect.arrayContaining(['Training and validation accuracy', 'Training and validation loss', 'train', 'validation']));

    expect(confusion!.rects).toHaveLength(1);
    expect(confusion!.rects[0]!.items).toBe(9);
    expect(confusion!.rects[0]!.width).toBeGreaterThan(60);
    for (const count of syntheticConfusion.flat()) expect(confusion!.texts).toContain(String(count));
    expect(confusion!.texts.filter((t) => t === 'bird <&>')).toHaveLength(2);

    const images = await page.$$eval('#samples img', (imgs) =>
      (imgs as HTMLImageElement[]).map((img) => ({ complete: img.complete, naturalWidth: img.naturalWidth, shownWidth: img.getBoundingClientRect().width, mistake: img.closest('figure')!.classList.contains('mistake') })),
    );
    expect(images).toHaveLength(7);
    for (const img of images) {
      expect(img.complete).toBe(true);
      expect(img.naturalWidth).toBeGreaterThan(0);
      expect(img.shownWidth).toBeGreaterThan(0);
    }
    expect(images.filter((img) => img.mistake)).toHaveLength(2);
    // Mistakes come first, most confident first.
    expect(images.slice(0, 2).every((img) => img.mistake)).toBe(true);

    const classificationRows = await page.$$eval('#classification tbody tr', (rows) => rows.map((r) => r.textContent));
    expect(classificationRows).toHaveLength(6);
    expect(failedRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
