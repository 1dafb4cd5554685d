/**
 * One batch's worth of decoding, the unit of work a loader hands to a thread: the same function runs
 * in worker threads and in the main thread (workers: 0), so both give the same bytes.
 */
import { drawAugment, type AugmentOptions } from './augment.js';
import { DecodeError, decodeImage, type ImageSpec } from './decode.js';
import type { ImageRef } from './sources.js';

export interface BatchTask {
  items: { ref: ImageRef; id: string; /** position in the loader's samples: the augmentation's key */ index: number }[];
  spec: ImageSpec;
  augment?: AugmentOptions;
  seed: number;
  epoch: number;
}

export interface BatchResult {
  /** The decoded images, [kept.length, h, w, 3]. */
  pixels: Uint8Array;
  /** Positions in `items` that decoded, in order. */
  kept: number[];
  skipped: { id: string; reason: string }[];
}

/** Images decoded at once within a batch: sharp works off the event loop, so a few overlap usefully. */
const concurrency = 4;

export async function decodeBatch(task: BatchTask): Promise<BatchResult> {
  const [h, w] = task.spec.size;
  const decoded: (Uint8Array | undefined)[] = new Array(task.items.length);
  const skipped: (BatchResult['skipped'][number] & { position: number })[] = [];
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < task.items.length; i = next++) {
      const item = task.items[i]!;
      const params = task.augment ? drawAugment(task.augment, task.seed, task.epoch, item.index) : undefined;
      try {
        decoded[i] = await decodeImage(item.ref, task.spec, params);
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        skipped.push({ position: i, id: item.id, reason: error.reason });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, task.items.length) }, lane));
  const kept = decoded.flatMap((d, i) => (d ? [i] : []));
  const pixels = new Uint8Array(kept.length * h * w * 3);
  kept.forEach((i, k) => pixels.set(decoded[i]!, k * h * w * 3));
  // Skips in item order, whatever order the lanes finished in.
  skipped.sort((a, b) => a.position - b.position);
  return { pixels, kept, skipped: skipped.map(({ id, reason }) => ({ id, reason })) };
}
