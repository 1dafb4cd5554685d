/**
 * One epoch of training and one pass of evaluation, over either
 *   - cached prefix outputs (the frozen prefix ran once: extract mode's features, or the input of the
 *     first unfrozen block; used whenever the inputs repeat, i.e. without augmentation), or
 *   - images streamed through the data loader and the frozen prefix each batch (with augmentation).
 * The trainable suffix and the head always run with a graph; only the loss and the accuracy are read
 * back, with one readback per batch awaited after the next batch is encoded, for the progress line.
 */
import {
  accuracy,
  backward,
  clipGradNorm,
  noGrad,
  softmaxCrossEntropy,
  tensor,
  type Optimizer,
  type Scheduler,
  type Tensor,
} from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import type { Preprocessing } from '@graft/models';
import { loadBatches, toModelInput, type AugmentOptions, type DecodePool, type ImageSpec, type Sample } from '../data/index.js';
import { randomFor, shuffleInPlace, streams } from '../data/random.js';
import type { GraftModel } from './graftModel.js';

/**
 * The frozen prefix's output for every sample (undefined where the image could not be decoded).
 * With augmentation, a run may cache a few augmented views of every image instead of streaming new
 * ones each epoch (`--augment-views`): a fixed pool of augmentations, for a fraction of the cost.
 */
export interface PrefixCache {
  /** Per-sample shape, e.g. [1280] (pooled features) or [5, 5, 160]. */
  shape: number[];
  values: (Float32Array | undefined)[];
  labels: Int32Array;
  ids: string[];
}

export interface ImageFeed {
  samples: Sample[];
  spec: ImageSpec;
  preprocessing: Preprocessing;
  pool?: DecodePool;
  onSkip?: (id: string, reason: string) => void;
}

/** What caching needs of a model: inference mode and the frozen prefix's forward. */
export interface PrefixModel {
  eval(): void;
  prefix(x: Tensor): Tensor;
}

/** What an epoch needs of a model: mode switches and the trainable part's forward. */
export interface SuffixModel {
  train(): void;
  eval(): void;
  suffix(input: Tensor): Tensor;
}

export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
}

/** Runs the frozen prefix once over `feed` (no augmentation) and keeps its outputs on the host. */
export async function buildPrefixCache(
  gpu: Gpu,
  gm: PrefixModel,
  feed: ImageFeed,
  batchSize: number,
  onBatch?: (done: number) => void,
  augmented?: { options: AugmentOptions; seed: number; epoch: number },
): Promise<PrefixCache> {
  const values: (Float32Array | undefined)[] = feed.samples.map(() => undefined);
  let shape: number[] = [];
  gm.eval();
  let done = 0;
  const augment = augmented ? { augment: augmented.options, seed: augmented.seed, epoch: augmented.epoch } : {};
  for await (const batch of loadBatches({ samples: feed.samples, spec: feed.spec, batchSize, pool: feed.pool, onSkip: feed.onSkip, ...augment })) {
    const n = batch.labels.length;
    const x = tensor(gpu, toModelInput(batch, feed.preprocessing), [n, feed.spec.size[0], feed.spec.size[1], 3]);
    const a = gm.prefix(x);
    if (a !== x) x.release(); // an empty prefix (everything trains) hands the input through
    const data = await a.read();
    shape = a.shape.slice(1);
    a.release();
    const per = data.length / n;
    batch.indices.forEach((index, i) => (values[index] = data.slice(i * per, (i + 1) * per)));
    done += n;
    onBatch?.(done);
  }
  return { shape, values, labels: Int32Array.from(feed.samples, (s) => s.label), ids: feed.samples.map((s) => s.id) };
}

export interface StepBatch {
  /** The trainable suffix's input (prefix output), [n, ...]. */
  input: Tensor;
  labels: Uint32Array;
  indices: number[];
}

/** Batches of cached prefix outputs in a seeded order (samples that failed to decode left out). */
export function* cachedBatches(gpu: Gpu, cache: PrefixCache, batchSize: number, order: readonly number[]): Generator<StepBatch> {
  const usable = order.filter((i) => cache.values[i] !== undefined);
  const per = cache.shape.reduce((a, b) => a * b, 1);
  for (let start = 0; start < usable.length; start += batchSize) {
    const indices = usable.slice(start, start + batchSize);
    const data = new Float32Array(indices.length * per);
    indices.forEach((index, i) => data.set(cache.values[index]!, i * per));
    const input = tensor(gpu, data, [indices.length, ...cache.shape]);
    yield { input, labels: Uint32Array.from(indices, (i) => cache.labels[i]!), indices };
  }
}

/** Batches of images streamed, augmented and pushed through the frozen prefix. */
export async function* streamedBatches(
  gm: GraftModel,
  feed: ImageFeed,
  batchSize: number,
  seed: number,
  epoch: number,
  augment: AugmentOptions | undefined,
  /** Filled at the end with the data pipeline's own rate (decoding + augmentation), for the metrics. */
  pipeline?: { imagesPerSecond: number },
): AsyncGenerator<StepBatch> {
  const gpu = gm.model.parameters()[0]!.gpu;
  const loader = loadBatches({ samples: feed.samples, spec: feed.spec, batchSize, shuffle: true, seed, epoch, augment, pool: feed.pool, onSkip: feed.onSkip });
  for await (const batch of loader) {
    const n = batch.labels.length;
    const x = tensor(gpu, toModelInput(batch, feed.preprocessing), [n, feed.spec.size[0], feed.spec.size[1], 3]);
    const input = gm.prefix(x);
    if (input !== x) x.release();
    yield { input, labels: Uint32Array.from(batch.labels), indices: batch.indices };
  }
  const stats = loader.stats();
  if (pipeline) pipeline.imagesPerSecond = stats.seconds > 0 ? stats.images / stats.seconds : 0;
}

export interface EpochStats {
  loss: number;
  accuracy: number;
  images: number;
  seconds: number;
}

export interface TrainStepOptions {
  optimizer: Optimizer<object>;
  scheduler?: Scheduler;
  labelSmoothing?: number;
  classWeights?: Tensor;
  clipNorm?: number;
  /** Called after each batch with the running mean loss and accuracy and images done. */
  onBatch?: (stats: { loss: number; accuracy: number; images: number }) => void;
}

/**
 * Starts one readback of several scalar tensors (packed into one buffer on the GPU). The copies are
 * encoded now, so the tensors may be released as soon as this returns.
 */
function readScalars(gpu: Gpu, scalars: readonly Tensor[]): Promise<Float32Array> {
  const packed = gpu.allocate([scalars.length]);
  const encoder = gpu.commandEncoder();
  scalars.forEach((t, i) => encoder.copyBufferToBuffer(t.data.buffer, t.data.byteOffset, packed.buffer, packed.byteOffset + 4 * i, 4));
  const values = gpu.read(packed);
  values.catch(() => {}); // awaited by the caller one step later; not an unhandled rejection meanwhile
  gpu.release(packed); // the copy to the host is already encoded: the queue runs in order
  return values;
}

/** One pass of training over `batches`. A non-finite loss stops at once (the caller keeps its last good checkpoint). */
export async function trainEpoch(gm: SuffixModel, batches: Iterable<StepBatch> | AsyncIterable<StepBatch>, options: TrainStepOptions): Promise<EpochStats> {
  const start = performance.now();
  let lossSum = 0;
  let correct = 0;
  let images = 0;
  gm.train();
  // The step's loss and accuracy are read with one readback, and the read of step i is awaited only
  // after step i + 1 is encoded: the host never waits for the GPU inside a step.
  let pending: { stats: Promise<Float32Array>; n: number } | null = null;
  const consume = async ({ stats, n }: { stats: Promise<Float32Array>; n: number }) => {
    const [value, acc] = await stats;
    if (!Number.isFinite(value!)) throw new NonFiniteLossError(`the training loss became ${value} after ${images + n} images of this epoch; lower the learning rate (--lr) or check the data`);
    lossSum += value! * n;
    correct += acc! * n;
    images += n;
    options.onBatch?.({ loss: lossSum / images, accuracy: correct / images, images });
  };
  for await (const batch of batches) {
    const n = batch.labels.length;
    const logits = gm.suffix(batch.input);
    const loss = softmaxCrossEntropy(logits, batch.labels, { labelSmoothing: options.labelSmoothing, classWeights: options.classWeights });
    const hits = noGrad(() => accuracy(logits, batch.labels));
    backward(loss);
    if (options.clipNorm) clipGradNorm(options.optimizer.paramGroups.flatMap((g) => g.params), options.clipNorm).release();
    options.optimizer.step();
    options.optimizer.zeroGrad();
    options.scheduler?.step();
    batch.input.release();
    const stats = readScalars(loss.gpu, [loss, hits]);
    loss.release();
    hits.release();
    if (pending) await consume(pending);
    pending = { stats, n };
  }
  if (pending) await consume(pending);
  return { loss: images ? lossSum / images : NaN, accuracy: images ? correct / images : NaN, images, seconds: (performance.now() - start) / 1000 };
}

export interface Evaluation extends EpochStats {
  /** Per evaluated sample: index into the samples, true label, predicted label, softmax probabilities. */
  predictions: { index: number; label: number; predicted: number; probabilities: Float64Array }[];
}

/** Softmax of one row of logits in float64. */
export function softmaxRow(logits: ArrayLike<number>, from: number, k: number): Float64Array {
  let max = -Infinity;
  for (let j = 0; j < k; j++) max = Math.max(max, logits[from + j]!);
  const out = new Float64Array(k);
  let sum = 0;
  for (let j = 0; j < k; j++) sum += out[j] = Math.exp(logits[from + j]! - max);
  for (let j = 0; j < k; j++) out[j]! /= sum;
  return out;
}

/** Inference over `batches` (eval mode): loss, accuracy and every prediction. */
export async function evaluate(gm: SuffixModel, batches: Iterable<StepBatch> | AsyncIterable<StepBatch>): Promise<Evaluation> {
  const start = performance.now();
  gm.eval();
  const predictions: Evaluation['predictions'] = [];
  let lossSum = 0;
  let images = 0;
  for await (const batch of batches) {
    const logits = noGrad(() => gm.suffix(batch.input));
    batch.input.release();
    const values = await logits.read();
    const k = logits.shape[1]!;
    logits.release();
    batch.indices.forEach((index, i) => {
      const probabilities = softmaxRow(values, i * k, k);
      const label = batch.labels[i]!;
      let predicted = 0;
      for (let j = 1; j < k; j++) if (probabilities[j]! > probabilities[predicted]!) predicted = j;
      lossSum += -Math.log(Math.max(probabilities[label]!, 1e-300));
      predictions.push({ index, label, predicted, probabilities });
    });
    images += batch.labels.length;
  }
  const correct = predictions.filter((p) => p.label === p.predicted).length;
  return { loss: images ? lossSum / images : NaN, accuracy: images ? correct / images : NaN, images, seconds: (performance.now() - start) / 1000, predictions };
}

/** The sample order of an epoch: a permutation seeded by (seed, epoch), as the image loader's. */
export function epochOrder(count: number, seed: number, epoch: number): number[] {
  return shuffleInPlace(Array.from({ length: count }, (_, i) => i), randomFor(streams.shuffle, seed, epoch));
}
