import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topKAccuracy } from './eval.js';
import { runCli, tempDir, trainTinyRunOnOwnDevice, writeCorrupt, writeImageFolder } from './testRun.js';

const classes = ['blue', 'green', 'red'];
const { dir, cleanup } = tempDir('eval');
const run = join(dir, 'run');
const data = join(dir, 'data');

beforeAll(async () => {
  await writeImageFolder(join(dir, 'train'), classes, 6);
  await writeImageFolder(data, classes, 3, 100);
  await trainTinyRunOnOwnDevice(join(dir, 'train'), run);
});
afterAll(cleanup);

const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at /);

describe('graft eval', () => {
  it('prints accuracy, the classification report and the confusion matrix', async () => {
    const { code, stdout } = await runCli('eval', run, data, '--top-k', '2');
    expect(code).toBe(0);
    expect(stdout).toMatch(/accuracy \d+\.\d%/);
    expect(stdout).toMatch(/top-2 accuracy \d+\.\d%/);
    expect(stdout).toMatch(/precision\s+recall\s+f1-score\s+support/);
    expect(stdout).toMatch(/macro avg/);
    expect(stdout).toContain('confusion matrix');
    for (const c of classes) expect(stdout).toContain(c);
  });

  it('--json agrees with itself: confusion sums, accuracy, top-k >= top-1; --chart writes a PNG', async () => {
    const chart = join(dir, 'confusion.png');
    const { code, stdout } = await runCli('eval', run, data, '--json', '--top-k', '2', '--chart', chart);
    expect(code).toBe(0);
    const r = JSON.parse(stdout);
    expect(r.images).toBe(9);
    expect(r.skipped).toEqual([]);
    expect(r.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(9);
    const diagonal = r.confusion.reduce((sum: number, row: number[], i: number) => sum + row[i]!, 0);
    expect(r.accuracy).toBeCloseTo(diagonal / 9, 12);
    expect(r.topK.k).toBe(2);
    expect(r.topK.accuracy).toBeGreaterThanOrEqual(r.accuracy);
    expect(r.report.classes.map((c: { name: string }) => c.name)).toEqual(classes);
    expect(r.report.classes.map((c: { support: number }) => c.support)).toEqual([3, 3, 3]);
    expect((await sharp(readFileSync(chart)).metadata()).format).toBe('png');
  });

  it('takes one checkpoint folder of a run', async () => {
    const best = join(run, 'checkpoints', 'best');
    const { code, stdout } = await runCli('eval', best, data, '--json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout).checkpoint).toBe(best);
  });

  it('warns about a corrupt image by path, skips and counts it', async () => {
    const withBad = join(dir, 'with-bad');
    await writeImageFolder(withBad, classes, 2, 200);
    writeCorrupt(join(withBad, 'red', 'broken.png'));
    const { code, stdout, stderr } = await runCli('eval', run, withBad, '--json');
    expect(code).toBe(0);
    expect(stderr).toContain(join(withBad, 'red', 'broken.png'));
    const r = JSON.parse(stdout);
    expect(r.images).toBe(6);
    expect(r.skipped).toEqual([join(withBad, 'red', 'broken.png')]);
  });

  it('names a class the run does not know, in one line', async () => {
    const extra = join(dir, 'extra');
    await writeImageFolder(extra, ['blue'], 1);
    mkdirSync(join(extra, 'purple'));
    copyFileSync(join(extra, 'blue', '0.png'), join(extra, 'purple', '0.png'));
    const { code, stderr } = await runCli('eval', run, extra);
    expect(code).toBe(1);
    expect(stderr).toMatch(/EvalDataError: .*classes the run does not know: purple \(the run's classes: blue, green, red\)/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    noStack(stderr);
  });

  it('names the classes missing from the data and still evaluates', async () => {
    const partial = join(dir, 'partial');
    await writeImageFolder(partial, ['blue', 'red'], 2);
    const { code, stdout, stderr } = await runCli('eval', run, partial, '--json');
    expect(code).toBe(0);
    expect(stderr).toMatch(/no folder for 1 of the run's classes: green/);
    const r = JSON.parse(stdout);
    expect(r.report.classes.find((c: { name: string }) => c.name === 'green').support).toBe(0);
    expect(r.images).toBe(4);
  });

  it('fails in one line on a missing data folder and on a run folder without checkpoint', async () => {
    const missing = await runCli('eval', run, join(dir, 'nope'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does not exist/);
    noStack(missing.stderr);

    const bare = join(dir, 'bare-run');
    mkdirSync(bare);
    copyFileSync(join(run, 'config.json'), join(bare, 'config.json'));
    const noCheckpoint = await runCli('eval', bare, data);
    expect(noCheckpoint.code).toBe(1);
    expect(noCheckpoint.stderr).toMatch(/RunFolderError: .*no checkpoint/);
    noStack(noCheckpoint.stderr);

    const notRun = await runCli('eval', data, data);
    expect(notRun.code).toBe(1);
    expect(notRun.stderr).toMatch(/not a graft run folder/);
  });

  it('exits 2 on a bad --top-k, and --help shows examples', async () => {
    expect((await runCli('eval', run, data, '--top-k', '0')).code).toBe(2);
    const help = await runCli('eval', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
  });
});

describe('topKAccuracy', () => {
  it('counts a hit when the true class is among the k most probable', () => {
    const p = (label: number, probs: number[]) => ({ label, probabilities: Float64Array.from(probs) });
    const predictions = [p(0, [0.7, 0.2, 0.1]), p(1, [0.5, 0.3, 0.2]), p(2, [0.5, 0.3, 0.2])];
    expect(topKAccuracy(predictions, 1)).toBeCloseTo(1 / 3);
    expect(topKAccuracy(predictions, 2)).toBeCloseTo(2 / 3);
    expect(topKAccuracy(predictions, 3)).toBe(1);
  });
});
