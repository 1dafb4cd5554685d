import { appendFileSync, copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '@graft/autograd';
import { createGpu, type Gpu } from '@graft/kernels';
import { mobilenetV2, torchvision } from '@graft/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sample } from '../data/index.js';
import { tempDir, writeCorrupt, writeImageFolder } from '../commands/testRun.js';
import { extractFeatures, FeatureCache, featureKey, weightsIdentity, type FeatureModel } from './featureCache.js';

const { dir, cleanup } = tempDir('feature-cache');
let gpu: Gpu;

beforeAll(async () => {
  gpu = await createGpu();
});
afterAll(() => {
  gpu.destroy();
  cleanup();
});

const spec = { size: [32, 32] as [number, number], resize: 37 };

describe('featureKey', () => {
  it('changes with the weights content, width, input size and preprocessing; not with the weights path', () => {
    const a = join(dir, 'a.bin');
    writeFileSync(a, 'weights v1');
    const copy = join(dir, 'copy.bin');
    copyFileSync(a, copy);
    const base: FeatureModel = { model: 'mobilenet_v2', alpha: 0.35, weights: a, preprocessing: torchvision, spec };
    const key = featureKey(base).key;
    expect(featureKey({ ...base, weights: copy }).key).toBe(key);
    expect(featureKey({ ...base, alpha: 0.5 }).key).not.toBe(key);
    expect(featureKey({ ...base, spec: { ...spec, size: [48, 48] } }).key).not.toBe(key);
    expect(featureKey({ ...base, preprocessing: { ...torchvision, mean: [0.5, 0.5, 0.5] } }).key).not.toBe(key);
    expect(featureKey({ ...base, model: 'resnet18' }).key).not.toBe(key);
    appendFileSync(a, '!');
    expect(featureKey(base).key).not.toBe(key);
    expect(featureKey(base).cacheable).toBe(true);
    expect(featureKey({ ...base, weights: 'none' }).cacheable).toBe(false);
  });

  it('hashes every file of a weights folder (TF.js model.json + shards)', () => {
    const folder = join(dir, 'tfjs');
    mkdirSync(folder);
    writeFileSync(join(folder, 'model.json'), '{}');
    writeFileSync(join(folder, 'group1-shard1of1'), 'abc');
    const before = weightsIdentity(folder);
    expect(before).toMatch(/^sha256:[0-9a-f]{64}$/);
    writeFileSync(join(folder, 'group1-shard1of1'), 'abd');
    expect(weightsIdentity(folder)).not.toBe(before);
  });
});

describe('FeatureCache', () => {
  it('round-trips a vector per image hash, atomically, and misses on a wrong width', () => {
    const root = join(dir, 'cache-unit');
    const weights = join(dir, 'unit.bin');
    writeFileSync(weights, 'weights');
    const cache = new FeatureCache(featureKey({ model: 'mobilenet_v2', weights, preprocessing: torchvision, spec: { size: [8, 8] } }), root);
    const hash = 'ab'.repeat(32);
    expect(cache.get(hash, 3)).toBeUndefined();
    cache.put(hash, Float32Array.from([1.5, -2, 3.25]));
    expect(cache.get(hash, 3)).toEqual(Float32Array.from([1.5, -2, 3.25]));
    expect(cache.get(hash, 4)).toBeUndefined();
    expect(cache.count()).toBe(1);
    const files = readdirSync(cache.dir, { recursive: true, encoding: 'utf8' });
    expect(files.filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(files).toContain('key.json');
  });
});

describe('extractFeatures', () => {
  it('runs the backbone only on images the cache has not seen', async () => {
    const weights = join(dir, 'w.bin');
    writeFileSync(weights, 'stands in for a weights file: only its hash matters here');
    const paths = await writeImageFolder(join(dir, 'images'), ['blue', 'red'], 2);
    const bad = join(dir, 'images', 'red', 'broken.png');
    writeCorrupt(bad);
    const samples: Sample[] = [...paths, bad].map((path, i) => ({ ref: { kind: 'file', path }, label: i < 2 ? 0 : 1, id: path }));
    const backbone = mobilenetV2(gpu, { includeTop: false, alpha: 0.35 });
    let forwards = 0;
    const forward = backbone.forward.bind(backbone);
    backbone.forward = (x: Tensor) => {
      forwards += x.shape[0]!;
      return forward(x);
    };
    const cache = new FeatureCache(featureKey({ model: 'mobilenet_v2', alpha: 0.35, weights, preprocessing: torchvision, spec }), join(dir, 'cache-extract'));
    const skipped: string[] = [];
    const options = { backbone, width: 1280, preprocessing: torchvision, spec, samples, cache, batchSize: 2, onSkip: (id: string) => skipped.push(id) };
    try {
      const first = await extractFeatures(gpu, options);
      expect(first).toMatchObject({ computed: 4, cached: 0 });
      expect(first.features[4]).toBeUndefined();
      expect(skipped).toEqual([bad]);
      expect(forwards).toBe(4); // the loader drops the corrupt image before the backbone
      expect(cache.count()).toBe(4);

      forwards = 0;
      const second = await extractFeatures(gpu, options);
      expect(second).toMatchObject({ computed: 0, cached: 4 });
      expect(second.features.slice(0, 4)).toEqual(first.features.slice(0, 4));
      expect(forwards).toBe(0); // only the corrupt image is retried, and it never reaches the backbone

      forwards = 0;
      const uncached = await extractFeatures(gpu, { ...options, cache: undefined });
      expect(uncached.computed).toBe(4);
      expect(forwards).toBe(4);
    } finally {
      backbone.release();
    }
  });
});
