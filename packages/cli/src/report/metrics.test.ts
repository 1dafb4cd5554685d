import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendMetrics, MetricsFileError, readMetrics, type EpochRecord } from './metrics.js';

const record = (epoch: number, extra: Partial<EpochRecord> = {}): EpochRecord => ({
  phase: epoch <= 2 ? 1 : 2,
  epoch,
  trainLoss: 1 / epoch,
  trainAccuracy: 0.5 + epoch / 10,
  valLoss: 1.1 / epoch,
  valAccuracy: 0.4 + epoch / 10,
  lr: { head: 1e-3, backbone: 1e-5 },
  seconds: 3.25,
  trainImagesPerSecond: 41.5,
  dataImagesPerSecond: 500,
  ...extra,
});

describe('metrics.jsonl', () => {
  let dir: string;
  let file: string;
  let warnings: string[];
  const warn = (message: string) => warnings.push(message);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'graft-metrics-'));
    file = join(dir, 'metrics.jsonl');
    warnings = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads back what was appended, one line per record', () => {
    const records = [record(1), record(2, { valLoss: undefined, valAccuracy: undefined }), record(3)];
    for (const r of records) appendMetrics(file, r);
    expect(readMetrics(file, warn)).toEqual(records);
    expect(warnings).toEqual([]);
  });

  it('reads a diverged loss back as NaN', () => {
    appendMetrics(file, record(1, { trainLoss: Number.NaN, valLoss: Number.POSITIVE_INFINITY }));
    const [read] = readMetrics(file, warn);
    expect(read!.trainLoss).toBeNaN();
    expect(read!.valLoss).toBeNaN();
    expect(read!.trainAccuracy).toBe(0.6);
  });

  it('skips a torn last line with a warning naming it', () => {
    appendMetrics(file, record(1));
    appendMetrics(file, record(2));
    appendFileSync(file, JSON.stringify(record(3)).slice(0, 40));
    expect(readMetrics(file, warn)).toEqual([record(1), record(2)]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('line 3');
  });

  it('skips a last line that parses but is not a whole record', () => {
    appendMetrics(file, record(1));
    appendFileSync(file, '{"phase":1}\n\n');
    expect(readMetrics(file, warn)).toEqual([record(1)]);
    expect(warnings[0]).toContain('line 2');
  });

  it('rejects a bad line that is not the last: the file is not a metrics log', () => {
    writeFileSync(file, `${JSON.stringify(record(1))}\nnot json\n${JSON.stringify(record(2))}\n`);
    expect(() => readMetrics(file, warn)).toThrow(MetricsFileError);
    expect(() => readMetrics(file, warn)).toThrow(/line 2 is not JSON/);
    writeFileSync(file, `${JSON.stringify({ ...record(1), phase: 3 })}\n${JSON.stringify(record(2))}\n`);
    expect(() => readMetrics(file, warn)).toThrow(/line 1: expected phase 1 or 2, found 3/);
  });

  it('names a missing file', () => {
    expect(() => readMetrics(join(dir, 'nope.jsonl'), warn)).toThrow(/nope\.jsonl: no such metrics file/);
  });
});
