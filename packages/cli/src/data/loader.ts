/**
 * Batches of decoded images for one epoch, decoded ahead of the consumer by worker threads so the
 * trainer finds the next batch ready. Pixels stay uint8 HWC until the trainer normalises them
 * (`toModelInput`), so the copy between threads is a quarter of float32's.
 */
import { preprocess, type Preprocessing } from '@graft/models';
import { checkAugmentOptions, type AugmentOptions } from './augment.js';
import type { BatchResult, BatchTask } from './batch.js';
import type { ImageSpec } from './decode.js';
import { createDecodePool, defaultWorkerCount, type DecodePool } from './pool.js';
import { randomFor, shuffleInPlace, streams } from './random.js';
import type { Sample } from './sources.js';

export interface LoaderOptions {
  samples: Sample[];
  spec: ImageSpec;
  batchSize: number;
  /** Order by a permutation seeded with (seed, epoch); otherwise the samples' order. */
  shuffle?: boolean;
  seed?: number;
  epoch?: number;
  /** Training augmentation, drawn per (seed, epoch, position in `samples`). */
  augment?: AugmentOptions;
  /** Decoding threads (default min(2, cpus)); 0 decodes in this thread. Ignored when `pool` is given. */
  workers?: number;
  /** A pool shared across epochs, so threads start once; the caller closes it. */
  pool?: DecodePool;
  /** Batches decoded ahead of the one being consumed (default 2). */
  prefetch?: number;
  /** Called once per image that cannot be decoded; the image is left out of its batch and the epoch goes on. */
  onSkip?: (id: string, reason: string) => void;
}

export interface Batch {
  /** [n, h, w, 3] RGB. */
  pixels: Uint8Array;
  labels: Int32Array;
  ids: string[];
  /** Positions in the loader's samples. */
  indices: number[];
}

export interface LoaderStats {
  /** Images decoded. */
  images: number;
  /** Wall time during which at least one batch was being decoded: images / seconds is the pipeline's throughput. */
  seconds: number;
  /** Images that could not be decoded. */
  skipped: number;
  /** Time the consumer spent waiting for a batch: near 0 when decoding keeps up with training. */
  waitSeconds: number;
}

export type BatchLoader = AsyncIterable<Batch> & { stats(): LoaderStats };

export function loadBatches(options: LoaderOptions): BatchLoader {
  const { samples, spec, batchSize, seed = 0, epoch = 0, prefetch = 2 } = options;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new Error(`batchSize must be a whole number > 0, got ${batchSize}`);
  if (!(Number.isInteger(prefetch) && prefetch >= 0)) throw new Error(`prefetch must be a whole number >= 0, got ${prefetch}`);
  if (options.augment) checkAugmentOptions(options.augment);
  const stats: LoaderStats = { images: 0, seconds: 0, skipped: 0, waitSeconds: 0 };

  // Busy time: the clock runs while any batch is in flight.
  let inFlight = 0;
  let busySince = 0;
  const started = () => {
    if (inFlight++ === 0) busySince = performance.now();
  };
  const finished = () => {
    if (--inFlight === 0) stats.seconds += (performance.now() - busySince) / 1000;
  };

  async function* batches(): AsyncGenerator<Batch> {
    const order = samples.map((_, i) => i);
    if (options.shuffle) shuffleInPlace(order, randomFor(streams.shuffle, seed, epoch));
    const groups: number[][] = [];
    for (let start = 0; start < order.length; start += batchSize) groups.push(order.slice(start, start + batchSize));

    const pool = options.pool ?? createDecodePool(options.workers ?? defaultWorkerCount());
    const queued: Promise<BatchResult>[] = [];
    let dispatched = 0;
    const dispatch = () => {
      const task: BatchTask = {
        items: groups[dispatched++]!.map((index) => ({ ref: samples[index]!.ref, id: samples[index]!.id, index })),
        spec,
        augment: options.augment,
        seed,
        epoch,
      };
      started();
      const result = pool.run(task).finally(finished);
      result.catch(() => {}); // observed when consumed; an abandoned epoch must not raise unhandled rejections
      queued.push(result);
    };
    try {
      for (let k = 0; k < groups.length; k++) {
        while (dispatched < Math.min(groups.length, k + 1 + prefetch)) dispatch();
        const waitStart = performance.now();
        const result = await queued.shift()!;
        stats.waitSeconds += (performance.now() - waitStart) / 1000;
        for (const { id, reason } of result.skipped) options.onSkip?.(id, reason);
        stats.skipped += result.skipped.length;
        stats.images += result.kept.length;
        if (result.kept.length === 0) continue;
        const indices = result.kept.map((i) => groups[k]![i]!);
        yield {
          pixels: result.pixels,
          labels: Int32Array.from(indices, (i) => samples[i]!.label),
          ids: indices.map((i) => samples[i]!.id),
          indices,
        };
      }
    } finally {
      if (!options.pool) await pool.close();
    }
  }

  return { [Symbol.asyncIterator]: batches, stats: () => ({ ...stats }) };
}

/** The batch as the model's input: NHWC float32, normalised as the weights expect. */
export function toModelInput(batch: Batch, preprocessing: Preprocessing): Float32Array {
  return preprocess(preprocessing, Float32Array.from(batch.pixels));
}
