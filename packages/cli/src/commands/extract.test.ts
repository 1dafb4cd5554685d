import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGpu } from '@graft/kernels';
import { readSafetensors } from '@graft/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFeatureFile, shardArg, shardPath, sidecarPath } from './extract.js';
import { runCli, tempDir, writeCorrupt, writeImageFolder, writeTinyWeights } from './testRun.js';

const { dir, cleanup } = tempDir('extract');
const data = join(dir, 'data');
const weights = join(dir, 'tiny.safetensors');
const cache = join(dir, 'cache');
let images: string[] = [];

beforeAll(async () => {
  images = await writeImageFolder(data, ['blue', 'red'], 3);
  const gpu = await createGpu();
  try {
    await writeTinyWeights(gpu, weights);
  } finally {
    gpu.destroy();
  }
});
afterAll(cleanup);

const common = ['--weights', weights, '--alpha', '0.35', '--size', '32', '--cache-dir', cache, '--json'];
const cacheFiles = () => (existsSync(cache) ? readdirSync(cache, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.f32')).length : 0);

describe('graft extract', () => {
  it('writes features [n, d] F32 and labels [n] I32 with a sidecar, then serves a second run from the cache', async () => {
    const out = join(dir, 'first.safetensors');
    const first = await runCli('extract', data, '--out', out, ...common);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ out, images: 6, computed: 6, cached: 0, skipped: 0, features: [6, 1280] });
    expect(cacheFiles()).toBe(6);

    const tensors = readSafetensors(out);
    expect(tensors.get('features')).toMatchObject({ dtype: 'F32', shape: [6, 1280] });
    expect(tensors.get('labels')).toMatchObject({ dtype: 'I32', shape: [6] });
    expect([...tensors.get('labels')!.data]).toEqual([0, 0, 0, 1, 1, 1]);
    const sidecar = JSON.parse(readFileSync(sidecarPath(out), 'utf8'));
    expect(sidecar.classes).toEqual(['blue', 'red']);
    expect(sidecar.paths).toEqual(images);
    const features = tensors.get('features')!.data;
    expect(features.some((v) => v !== 0)).toBe(true);
    // A blue and a red image give different features.
    expect(features.slice(0, 1280)).not.toEqual(features.slice(3 * 1280, 4 * 1280));

    const again = join(dir, 'again.safetensors');
    const second = await runCli('extract', data, '--out', again, ...common);
    expect(JSON.parse(second.stdout)).toMatchObject({ images: 6, computed: 0, cached: 6 });
    expect(cacheFiles()).toBe(6);
    expect(readSafetensors(again).get('features')!.data).toEqual(features);

    // Another input size is another model key: nothing cached for it yet.
    const other = await runCli('extract', data, '--out', join(dir, 'other.safetensors'), ...common, '--size', '48');
    expect(JSON.parse(other.stdout)).toMatchObject({ computed: 6, cached: 0 });
    expect(cacheFiles()).toBe(12);
  });

  it('--shard k/N over all N, merged, equals one extraction', async () => {
    const out = join(dir, 'sharded.safetensors');
    for (const k of [0, 1, 2]) {
      const r = await runCli('extract', data, '--out', out, '--shard', `${k}/3`, ...common, '--no-cache');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ out: shardPath(out, { index: k, count: 3 }), images: 2, computed: 2 });
    }
    expect(existsSync(join(dir, 'sharded.shard-1-of-3.safetensors'))).toBe(true);
    const merged = join(dir, 'merged.safetensors');
    const shards = [2, 0, 1].map((k) => shardPath(out, { index: k, count: 3 }));
    const m = await runCli('extract', '--merge', merged, ...shards, '--json');
    expect(m.code).toBe(0);
    const whole = readFeatureFile(join(dir, 'first.safetensors'));
    const got = readFeatureFile(merged);
    expect(got.sidecar.paths).toEqual(whole.sidecar.paths);
    expect([...got.labels]).toEqual([...whole.labels]);
    expect(got.features).toEqual(whole.features);

    const overlap = await runCli('extract', '--merge', join(dir, 'bad.safetensors'), shards[0]!, shards[0]!);
    expect(overlap.code).toBe(1);
    expect(overlap.stderr).toMatch(/FeatureFileError: .*both hold image .*must not overlap/);

    const partial = await runCli('extract', '--merge', join(dir, 'partial.safetensors'), shards[0]!);
    expect(partial.code).toBe(0);
    expect(partial.stderr).toMatch(/1 of 3 shards: shards 0, 1 missing/);
  });

  it('refuses to merge shards of different models', async () => {
    const a = join(dir, 'a.safetensors');
    const b = join(dir, 'b.safetensors');
    expect((await runCli('extract', data, '--out', a, '--shard', '0/2', ...common)).code).toBe(0);
    expect((await runCli('extract', data, '--out', b, '--shard', '1/2', ...common, '--size', '48')).code).toBe(0);
    const r = await runCli('extract', '--merge', join(dir, 'ab.safetensors'), shardPath(a, { index: 0, count: 2 }), shardPath(b, { index: 1, count: 2 }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/comes from another model/);
  });

  it('skips and counts a corrupt image; --weights none is not cached', async () => {
    const withBad = join(dir, 'with-bad');
    await writeImageFolder(withBad, ['blue', 'red'], 1);
    writeCorrupt(join(withBad, 'red', 'broken.png'));
    const before = cacheFiles();
    const r = await runCli('extract', withBad, '--out', join(dir, 'bad.safetensors'), ...common, '--weights', 'none');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(join(withBad, 'red', 'broken.png'));
    expect(r.stderr).toMatch(/random weights are not cached/);
    expect(JSON.parse(r.stdout)).toMatchObject({ images: 2, skipped: 1, computed: 2 });
    expect(cacheFiles()).toBe(before);
  });

  it('usage mistakes: bad --shard exits 2, a missing folder or shard file 1, all in one line', async () => {
    for (const bad of ['2/2', '-1/2', 'a/b', '3']) {
      const r = await runCli('extract', data, '--shard', bad);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toMatch(/--shard takes k\/N/);
    }
    const noData = await runCli('extract');
    expect(noData.code).toBe(2);
    expect(noData.stderr).toMatch(/expected one <data> folder/);
    const missing = await runCli('extract', join(dir, 'nope'), ...common);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/DatasetError: .*does not exist/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    const noShard = await runCli('extract', '--merge', join(dir, 'x.safetensors'), join(dir, 'nope.safetensors'));
    expect(noShard.code).toBe(1);
    expect(noShard.stderr).toMatch(/nope\.safetensors' does not exist/);
  });

  it('--help documents sharding with Kubernetes and Slurm', async () => {
    const help = await runCli('extract', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('--shard $JOB_COMPLETION_INDEX/8');
    expect(help.stdout).toContain('--shard $SLURM_ARRAY_TASK_ID/8');
    expect(help.stdout).toContain('--merge');
  });
});

describe('shardArg', () => {
  it('parses k/N with 0 <= k < N', () => {
    expect(shardArg('0/1')).toEqual({ index: 0, count: 1 });
    expect(shardArg('3/8')).toEqual({ index: 3, count: 8 });
    expect(() => shardArg('8/8')).toThrow(/0 <= k < N/);
    expect(() => shardArg('0/0')).toThrow();
  });
});
