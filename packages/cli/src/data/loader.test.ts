import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { torchvision } from '@graft/models';
import type { AugmentOptions } from './augment.js';
import { loadBatches, toModelInput, type Batch, type LoaderOptions } from './loader.js';
import { createDecodePool } from './pool.js';
import { scanImageFolder, type Sample } from './sources.js';

let dir: string;
let samples: Sample[];
const good = 10;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'graft-loader-'));
  for (const cls of ['a', 'b']) mkdirSync(join(dir, cls));
  // Each image a distinct flat colour with a marker, so every decoded image is tellable apart.
  for (let i = 0; i < good; i++) {
    const pixels = new Uint8Array(12 * 12 * 3).fill(i * 20);
    pixels.set([255, 0, 0], (i % 12) * 3);
    await sharp(pixels, { raw: { width: 12, height: 12, channels: 3 } }).png().toFile(join(dir, i % 2 ? 'b' : 'a', `${i}.png`));
  }
  writeFileSync(join(dir, 'a', 'corrupt.jpg'), (await sharp(new Uint8Array(300).fill(9), { raw: { width: 10, height: 10, channels: 3 } }).jpeg().toBuffer()).subarray(0, 50));
  writeFileSync(join(dir, 'b', 'notes.png'), 'a text file with an image extension\n');
  samples = scanImageFolder(dir, { valFraction: 0 }).train;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const augment: AugmentOptions = { flip: true, rotation: 15, zoom: 0.1, brightness: 0.2, contrast: 0.2, randomResizedCrop: { scale: [0.5, 1], ratio: [3 / 4, 4 / 3] } };

async function collect(options: Partial<LoaderOptions>) {
  const skips: string[] = [];
  const loader = loadBatches({ samples, spec: { size: [8, 8] }, batchSize: 5, onSkip: (id) => skips.push(id), ...options });
  const batches: Batch[] = [];
  for await (const batch of loader) batches.push(batch);
  return { batches, skips, stats: loader.stats() };
}

describe('loadBatches', () => {
  it('covers every decodable sample once, keeps the last partial batch, and reports each bad file once', async () => {
    expect(samples).toHaveLength(12);
    const { batches, skips, stats } = await collect({ workers: 0 });
    const indices = batches.flatMap((b) => b.indices);
    expect(indices).toHaveLength(good);
    expect(new Set(indices).size).toBe(good);
    expect(skips.sort()).toEqual([join(dir, 'a', 'corrupt.jpg'), join(dir, 'b', 'notes.png')]);
    // 12 samples in batches of 5: 5, 5, 2 before skips; each bad file leaves its batch one short.
    expect(batches.map((b) => b.labels.length).reduce((a, b) => a + b)).toBe(good);
    expect(batches).toHaveLength(3);
    for (const b of batches) {
      expect(b.pixels.length).toBe(b.labels.length * 8 * 8 * 3);
      expect(b.ids).toEqual(b.indices.map((i) => samples[i]!.id));
      expect([...b.labels]).toEqual(b.indices.map((i) => samples[i]!.label));
    }
    expect(stats.images).toBe(good);
    expect(stats.skipped).toBe(2);
    expect(stats.seconds).toBeGreaterThan(0);
  });

  it('gives the same batches, byte for byte and in the same order, with 0 and 2 worker threads', async () => {
    const options = { shuffle: true, seed: 4, epoch: 1, augment, batchSize: 4 };
    const inThread = await collect({ ...options, workers: 0 });
    const threaded = await collect({ ...options, workers: 2, prefetch: 1 });
    expect(threaded.batches.map((b) => b.indices)).toEqual(inThread.batches.map((b) => b.indices));
    expect(threaded.batches.map((b) => Buffer.from(b.pixels).toString('hex'))).toEqual(inThread.batches.map((b) => Buffer.from(b.pixels).toString('hex')));
    expect(threaded.skips.sort()).toEqual(inThread.skips.sort());
    expect(threaded.stats.images).toBe(good);
  });

  it('shuffles differently per epoch, reproducibly, and augments differently per epoch', async () => {
    const order = async (epoch: number) => (await collect({ workers: 0, shuffle: true, seed: 1, epoch, augment })).batches;
    const [e0, e0again, e1] = [await order(0), await order(0), await order(1)];
    const indices = (bs: Batch[]) => bs.flatMap((b) => b.indices);
    expect(indices(e0again)).toEqual(indices(e0));
    expect(indices(e1)).not.toEqual(indices(e0));
    expect(indices(e1).sort()).toEqual(indices(e0).sort());
    expect(e0again.map((b) => b.pixels)).toEqual(e0.map((b) => b.pixels));
    // The same sample looks different in another epoch.
    const first = e0[0]!.indices[0]!;
    const pixelsOf = (bs: Batch[], i: number) => {
      const b = bs.find((x) => x.indices.includes(i))!;
      const k = b.indices.indexOf(i);
      return b.pixels.subarray(k * 192, (k + 1) * 192);
    };
    expect(pixelsOf(e1, first)).not.toEqual(pixelsOf(e0, first));
    const unshuffled = await collect({ workers: 0 });
    expect(indices(unshuffled.batches)).toEqual(indices(unshuffled.batches).slice().sort((a, b) => a - b));
  });

  it('terminates its threads when the consumer stops early', async () => {
    const terminate = vi.spyOn(Worker.prototype, 'terminate');
    try {
      const loader = loadBatches({ samples, spec: { size: [8, 8] }, batchSize: 2, workers: 2 });
      for await (const batch of loader) {
        expect(batch.labels.length).toBeGreaterThan(0);
        break;
      }
      expect(terminate).toHaveBeenCalledTimes(2);
    } finally {
      terminate.mockRestore();
    }
  });

  it('shares a pool across epochs without closing it', async () => {
    const pool = createDecodePool(1);
    try {
      for (const epoch of [0, 1]) {
        const loader = loadBatches({ samples, spec: { size: [8, 8] }, batchSize: 6, pool, epoch, shuffle: true });
        let n = 0;
        for await (const batch of loader) n += batch.labels.length;
        expect(n).toBe(good);
      }
    } finally {
      await pool.close();
    }
  });

  it('rejects bad options with a clear message', () => {
    expect(() => loadBatches({ samples, spec: { size: [8, 8] }, batchSize: 0 })).toThrow('batchSize must be a whole number > 0, got 0');
    expect(() => loadBatches({ samples, spec: { size: [8, 8] }, batchSize: 2, augment: { rotation: -1 } })).toThrow('augmentation rotation must be in [0, 360), got -1');
  });
});

describe('toModelInput', () => {
  it('applies the weights preprocessing to the uint8 pixels', () => {
    const batch: Batch = { pixels: Uint8Array.from([255, 0, 128]), labels: Int32Array.of(0), ids: ['x'], indices: [0] };
    const out = toModelInput(batch, torchvision);
    expect(out[0]).toBeCloseTo((1 - 0.485) / 0.229, 5);
    expect(out[1]).toBeCloseTo(-0.456 / 0.224, 5);
    expect(out[2]).toBeCloseTo((128 / 255 - 0.406) / 0.225, 5);
  });
});
