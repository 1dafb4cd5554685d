/**
 * `graft demo` on a tiny generated folder (the committed clip art takes minutes): the real pretrained
 * nsfwjs MobileNetV2 at 32 px, a few epochs; the three numbers come back and the run folder is written.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoData } from './demo.js';
import { runCli, tempDir, writeImageFolder } from './testRun.js';

const { dir, cleanup } = tempDir('graft-demo-');
const data = join(dir, 'data');
beforeAll(async () => {
  await writeImageFolder(data, ['blue', 'green', 'red'], 6);
}, 30_000);
afterAll(cleanup);

describe('graft demo', () => {
  it('finds the committed dataset from its own location', () => {
    expect(existsSync(join(demoData, 'README.md'))).toBe(true);
    expect(existsSync(join(demoData, 'mammals'))).toBe(true);
  });

  it('reports the baseline, feature-extraction and fine-tuning accuracies as JSON', async () => {
    const { code, stdout, stderr } = await runCli('demo', '--data', data, '--size', '32', '--epochs', '3', '--fine-tune-epochs', '1', '--unfreeze-last', '1', '--workers', '0', '--out', join(dir, 'runs'), '--json');
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout) as Record<string, number | string | string[]>;
    expect(result.classes).toEqual(['blue', 'green', 'red']);
    for (const key of ['baseline', 'featureExtraction', 'fineTuning']) {
      expect(result[key]).toBeGreaterThanOrEqual(0);
      expect(result[key]).toBeLessThanOrEqual(1);
    }
    expect(existsSync(join(dir, 'runs', 'demo', 'report.html'))).toBe(true);
  }, 120_000);
});
