import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectImages, formatCsv, PredictInputError } from './predict.js';
import { runCli, tempDir, testColours, trainTinyRunOnOwnDevice, writeCorrupt, writeImage, writeImageFolder } from './testRun.js';

const classes = ['blue', 'green', 'red'];
const { dir, cleanup } = tempDir('predict');
const run = join(dir, 'run');
const photos = join(dir, 'photos');
const nested = join(photos, 'more', 'deeper');

beforeAll(async () => {
  await writeImageFolder(join(dir, 'train'), classes, 6);
  mkdirSync(nested, { recursive: true });
  await writeImage(join(photos, 'a.png'), testColours.red!, 50);
  await writeImage(join(photos, 'b.png'), testColours.blue!, 51);
  await writeImage(join(nested, 'c.png'), testColours.green!, 52);
  await trainTinyRunOnOwnDevice(join(dir, 'train'), run);
});
afterAll(cleanup);

const expectedImages = () => [join(photos, 'a.png'), join(photos, 'b.png'), join(nested, 'c.png')];

describe('graft predict', () => {
  it('--format json: top-k per image, most probable first, all k = classes summing to 1', async () => {
    const { code, stdout } = await runCli('predict', run, photos, '--format', 'json');
    expect(code).toBe(0);
    const r = JSON.parse(stdout);
    expect(r.k).toBe(3);
    expect(r.predictions.map((p: { path: string }) => p.path)).toEqual(expectedImages());
    for (const p of r.predictions) {
      expect(p.top.map((t: { class: string }) => t.class).sort()).toEqual(classes);
      const probabilities = p.top.map((t: { probability: number }) => t.probability);
      expect(probabilities.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 6);
      expect([...probabilities].sort((a, b) => b - a)).toEqual(probabilities);
    }
  });

  it('--top-k 2 gives two classes each; files and folders mix', async () => {
    const { code, stdout } = await runCli('predict', run, join(photos, 'a.png'), nested, '--format', 'json', '--top-k', '2');
    expect(code).toBe(0);
    const r = JSON.parse(stdout);
    expect(r.predictions.map((p: { path: string }) => p.path)).toEqual([join(photos, 'a.png'), join(nested, 'c.png')]);
    for (const p of r.predictions) expect(p.top).toHaveLength(2);
  });

  it('--format csv: a header and one row per image and rank', async () => {
    const { code, stdout } = await runCli('predict', run, photos, '--format', 'csv');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('path,rank,class,probability');
    expect(lines).toHaveLength(1 + 3 * 3);
    const sums = new Map<string, number>();
    for (const line of lines.slice(1)) {
      const [path, rank, cls, probability] = line.split(',');
      expect(['1', '2', '3']).toContain(rank);
      expect(classes).toContain(cls);
      sums.set(path!, (sums.get(path!) ?? 0) + Number(probability));
    }
    expect([...sums.keys()]).toEqual(expectedImages());
    for (const sum of sums.values()) expect(sum).toBeCloseTo(1, 4);
  });

  it('--format table (default) names every image and its top class', async () => {
    const { code, stdout } = await runCli('predict', run, photos);
    expect(code).toBe(0);
    for (const path of expectedImages()) expect(stdout).toContain(path);
    expect(stdout).toContain('top class');
    expect(stdout).toMatch(/(blue|green|red) \d+\.\d%/);
  });

  it('warns about a corrupt file and still predicts the others', async () => {
    const bad = join(dir, 'broken.jpg');
    writeCorrupt(bad);
    const { code, stdout, stderr } = await runCli('predict', run, bad, join(photos, 'a.png'), '--format', 'json');
    expect(code).toBe(0);
    expect(stderr).toContain(`skipped ${bad}`);
    const r = JSON.parse(stdout);
    expect(r.predictions.map((p: { path: string }) => p.path)).toEqual([join(photos, 'a.png')]);
    expect(r.skipped.map((s: { path: string }) => s.path)).toEqual([bad]);
  });

  it('exits 1 when no image could be read, or a path does not exist; 2 on a bad --format', async () => {
    const bad = join(dir, 'only-bad.png');
    writeCorrupt(bad);
    const none = await runCli('predict', run, bad);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/PredictInputError: none of the 1 images could be read/);
    const missing = await runCli('predict', run, join(dir, 'nope.png'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.png' does not exist/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    expect((await runCli('predict', run, photos, '--format', 'xml')).code).toBe(2);
    const help = await runCli('predict', '--help');
    expect(help.stdout).toContain('Examples:');
  });
});

describe('collectImages and formatCsv', () => {
  it('recurses folders in sorted order and rejects an empty one', () => {
    expect(collectImages([photos])).toEqual(expectedImages());
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(() => collectImages([empty])).toThrow(PredictInputError);
  });

  it('quotes paths with commas and quotes', () => {
    const csv = formatCsv({ run: 'r', checkpoint: 'c', k: 1, skipped: [], predictions: [{ path: 'a,"b".png', top: [{ class: 'x', probability: 1 }] }] });
    expect(csv.split('\n')[1]).toBe('"a,""b"".png",1,x,1.00000');
  });
});
