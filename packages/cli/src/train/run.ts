/**
 * A training run, the Keras transfer-learning tutorial's workflow as one function:
 *   phase 1  the backbone frozen, a new head trained on its features (computed once and cached when
 *            there is no augmentation: then an epoch costs only the head);
 *   phase 2  (mode 'finetune') the last N units unfrozen, trained with the head at a lower rate
 *            (the frozen prefix's outputs cached likewise);
 * validation after every epoch, metrics.jsonl, checkpoints (`last` every epoch, `best` on improvement),
 * early stopping that restores the best weights, exact resume, and a report at the end.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { manualSeed, tensor, type HostEntry, type Optimizer, type Scheduler } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { graftHead, loadTorchStateDict, torchStateDict } from '@graft/models';
import { createDecodePool, decodeImage, type AugmentOptions, imageSpecFor, readCifar10, scanImageFolder, type Dataset, type DecodePool, type ImageSpec } from '../data/index.js';
import type { Progress } from '../progress.js';
import { appendMetrics, type EpochRecord } from '../report/metrics.js';
import { confusionMatrix } from '../report/classification.js';
import { writeReport } from '../report/html.js';
import type { SamplePrediction } from '../report/samples.js';
import { loadBackbone } from './backbones.js';
import { extractFeatures, FeatureCache, featureKey } from './featureCache.js';
import { dropoutSeeds, loadCheckpoint, readCheckpointState, saveCheckpoint, type CheckpointState, type RunPosition } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import { GraftModel } from './graftModel.js';
import { parameterGroups } from './groups.js';
import { buildPrefixCache, cachedBatches, epochOrder, evaluate, streamedBatches, trainEpoch, type Evaluation, type ImageFeed, type PrefixCache, type StepBatch } from './loop.js';
import { currentLrs, makeOptimizer, makeScheduler } from './optimizers.js';

export interface RunIO {
  log(line: string): void;
  warn(line: string): void;
  progress: Progress;
  /** Set when the user pressed Ctrl-C: the run saves at the end of the current batch… epoch, and stops. */
  interrupted?: () => boolean;
}

export interface RunResult {
  runDir: string;
  classes: string[];
  records: EpochRecord[];
  /** Validation accuracy at the end of each phase (after restoring the best weights). */
  phaseAccuracy: { 1?: number; 2?: number };
  validation?: Evaluation;
  test?: Evaluation;
  interrupted: boolean;
  skipped: number;
}

export class RunInterrupted extends Error {
  override name = 'RunInterrupted';
}

/** The dataset the config names. */
export function openDataset(config: TrainConfig): Dataset {
  if (config.source === 'cifar10') return readCifar10(config.data, { valFraction: config.valSplit, seed: config.seed });
  return scanImageFolder(config.data, { valFraction: config.valSplit, testFraction: config.testSplit, seed: config.seed, valDir: config.valDir });
}

/** The part of the config a checkpoint must agree with to be resumed. */
function identity(config: TrainConfig, classes: string[]): Record<string, unknown> {
  return { model: config.model, weights: config.weights, alpha: config.alpha ?? 1, size: config.size, head: config.head, classes };
}

interface Context {
  gpu: Gpu;
  config: TrainConfig;
  io: RunIO;
  gm: GraftModel;
  dataset: Dataset;
  spec: ImageSpec;
  pool: DecodePool;
  trainFeed: ImageFeed;
  valFeed: ImageFeed;
  records: EpochRecord[];
  position: RunPosition;
  resume?: { state: CheckpointState; optimizer?: Awaited<ReturnType<typeof loadCheckpoint>>['optimizer'] };
  skipped: Set<string>;
}

function checkpointState(ctx: Context): CheckpointState {
  return { format: 'graft-checkpoint', version: 1, config: identity(ctx.config, ctx.dataset.classes), position: { ...ctx.position, dropoutSeeds: dropoutSeeds(ctx.gm) } };
}

function classWeights(ctx: Context): Float32Array | undefined {
  if (ctx.config.classWeights !== 'balanced') return undefined;
  const k = ctx.dataset.classes.length;
  const counts = new Array<number>(k).fill(0);
  for (const s of ctx.dataset.train) counts[s.label]!++;
  const n = ctx.dataset.train.length;
  return Float32Array.from(counts, (c) => (c > 0 ? n / (k * c) : 0)); // scikit-learn's 'balanced'
}

async function snapshot(ctx: Context): Promise<Map<string, HostEntry>> {
  return torchStateDict(ctx.gm.model);
}

/** The on-disk feature cache for phase 1 (pooled features of the frozen backbone), when it applies. */
function featureCacheFor(ctx: Context): FeatureCache | undefined {
  if (!ctx.config.featureCache) return undefined;
  const key = featureKey({ model: ctx.config.model, alpha: ctx.config.alpha, weights: ctx.config.weights, preprocessing: ctx.trainFeed.preprocessing, spec: ctx.spec });
  return key.cacheable ? new FeatureCache(key) : undefined;
}

/** Phase-1 features through the on-disk cache: the backbone runs only on images it has not seen. */
async function cachedFeatures(ctx: Context, feed: ImageFeed, cache: FeatureCache, offset: number): Promise<PrefixCache> {
  const { gm, config, gpu, io } = ctx;
  const extraction = await extractFeatures(gpu, {
    backbone: gm.loaded.backbone,
    width: gm.loaded.numFeatures,
    preprocessing: feed.preprocessing,
    spec: feed.spec,
    samples: feed.samples,
    cache,
    batchSize: config.batchSize,
    pool: feed.pool,
    onSkip: feed.onSkip,
    onProgress: (done) => io.progress.update(offset + done),
  });
  if (extraction.cached > 0) io.log(`phase 1: ${extraction.cached} of ${feed.samples.length} images' features read from the feature cache (${cache.dir})`);
  return { shape: [gm.loaded.numFeatures], values: extraction.features, labels: Int32Array.from(feed.samples, (s) => s.label), ids: feed.samples.map((s) => s.id) };
}

/** Sets what trains in `phase` (frozen backbone, or its last N units with their BN mode) and makes its optimizer over the `--lr` groups. */
export function preparePhase(gm: GraftModel, config: TrainConfig, phase: 1 | 2, lrSpec: string): Optimizer<object> {
  gm.setTrainable(phase === 1 ? 0 : config.unfreezeLast, phase === 1 ? 'frozen' : config.bn);
  return makeOptimizer(config.optimizer, gm.model, parameterGroups(lrSpec, config.weightDecay, gm.groupContext()), config.momentum);
}

/** One phase: set what trains, build caches, loop over epochs with validation, checkpoints and early stopping. */
async function runPhase(ctx: Context, phase: 1 | 2, epochs: number, lrSpec: string): Promise<void> {
  const { config, gm, io, gpu } = ctx;
  const optimizer = preparePhase(gm, config, phase, lrSpec);
  const resuming = ctx.resume && ctx.resume.state.position.phase === phase;
  if (resuming && ctx.resume!.optimizer) optimizer.loadStateDict(ctx.resume!.optimizer);
  const weights = classWeights(ctx);
  const weightTensor = weights ? tensor(gpu, weights, [weights.length]) : undefined;

  const augment = config.augment && (config.augmentIn === 'all' || phase === 2) ? config.augment : undefined;
  const views = augment ? config.augmentViews : 1; // cached views of the training set (0: stream every epoch)
  const cached = views > 0;
  const trainCaches: PrefixCache[] = [];
  let valCache: PrefixCache | undefined;
  let dataRate = 0; // img/s of decoding + the frozen prefix (the cache build, or the streamed epochs)
  try {
    {
      // Validation inputs never change: the frozen prefix runs over them once. Training inputs too,
      // unaugmented or as `views` augmented copies; otherwise they stream through it every epoch.
      const label = phase === 1 ? 'features' : `cache ${gm.stages[gm.split]?.name ?? 'head'}`;
      const n = ctx.trainFeed.samples.length;
      const images = (cached ? n * views : 0) + ctx.valFeed.samples.length;
      io.progress.start(images, label);
      const t0 = performance.now();
      const diskCache = phase === 1 && !augment ? featureCacheFor(ctx) : undefined;
      const prefixCache = (feed: ImageFeed, offset: number, augmented?: { options: AugmentOptions; seed: number; epoch: number }) =>
        diskCache ? cachedFeatures(ctx, feed, diskCache, offset) : buildPrefixCache(gpu, gm, feed, config.batchSize, (d) => io.progress.update(offset + d), augmented);
      for (let v = 0; v < (cached ? views : 0); v++) {
        const augmented = augment ? { options: augment, seed: config.seed, epoch: v + 1 } : undefined;
        trainCaches.push(await prefixCache(ctx.trainFeed, v * n, augmented));
      }
      const before = cached ? n * views : 0;
      valCache = await prefixCache(ctx.valFeed, before);
      io.progress.stop();
      const seconds = (performance.now() - t0) / 1000;
      dataRate = images / seconds;
      const what = !cached ? 'validation images' : augment ? `images (${views} augmented views of each training image)` : 'images';
      io.log(
        `phase ${phase}: frozen prefix run once over ${images} ${what} in ${seconds.toFixed(1)} s (${dataRate.toFixed(1)} img/s); ` +
          `epochs train ${gm.trainableUnitNames().join(', ') || 'the head only'}${cached ? '' : ' on augmented images streamed through the prefix'}`,
      );
    }
    const batchesPerEpoch = Math.ceil(ctx.trainFeed.samples.length / config.batchSize);
    const scheduler: Scheduler | undefined = makeScheduler(config.schedule, optimizer, epochs * batchesPerEpoch);
    if (resuming && scheduler && ctx.resume!.state.position.scheduler) scheduler.loadStateDict(ctx.resume!.state.position.scheduler);
    const startEpoch = resuming ? ctx.position.phaseEpoch : 0;
    if (!resuming) Object.assign(ctx.position, { phase, phaseEpoch: 0, bestScore: Infinity, bestEpoch: 0, stale: 0, scheduler: undefined });
    ctx.resume = undefined;
    let best: Map<string, HostEntry> | undefined; // in memory; after a resume, the best checkpoint on disk

    for (let e = startEpoch; e < epochs; e++) {
      const epoch = ctx.position.epoch + 1;
      const order = epochOrder(ctx.trainFeed.samples.length, config.seed, epoch);
      const pipeline = { imagesPerSecond: dataRate };
      const batches: Iterable<StepBatch> | AsyncIterable<StepBatch> = cached
        ? cachedBatches(gpu, trainCaches[(epoch - 1) % trainCaches.length]!, config.batchSize, order)
        : streamedBatches(gm, ctx.trainFeed, config.batchSize, config.seed, epoch, augment, pipeline);
      io.progress.start(ctx.trainFeed.samples.length, `phase ${phase} ep ${epoch}`);
      const stats = await trainEpoch(gm, batches, {
        optimizer,
        scheduler,
        labelSmoothing: config.labelSmoothing,
        classWeights: weightTensor,
        clipNorm: config.clipNorm,
        onBatch: (s) => io.progress.update(s.images, s),
      });
      io.progress.stop();
      const val = ctx.valFeed.samples.length > 0 ? await evaluate(gm, cachedBatches(gpu, valCache!, config.batchSize, valCache!.values.map((_, i) => i))) : undefined;
      const record: EpochRecord = {
        phase,
        epoch,
        trainLoss: stats.loss,
        trainAccuracy: stats.accuracy,
        valLoss: val?.loss,
        valAccuracy: val?.accuracy,
        lr: currentLrs(optimizer),
        seconds: stats.seconds + (val?.seconds ?? 0),
        trainImagesPerSecond: stats.images / stats.seconds,
        dataImagesPerSecond: pipeline.imagesPerSecond,
      };
      ctx.records.push(record);
      appendMetrics(join(config.runDir, 'metrics.jsonl'), record);
      io.log(
        `phase ${phase} epoch ${epoch}: loss ${stats.loss.toFixed(4)} acc ${(100 * stats.accuracy).toFixed(1)}%` +
          (val ? ` | val loss ${val.loss.toFixed(4)} acc ${(100 * val.accuracy).toFixed(1)}%` : '') +
          ` | ${(stats.images / stats.seconds).toFixed(1)} img/s${cached ? '' : ` (data pipeline ${pipeline.imagesPerSecond.toFixed(1)} img/s)`}`,
      );

      ctx.position.epoch = epoch;
      ctx.position.phaseEpoch = e + 1;
      ctx.position.scheduler = scheduler?.stateDict();
      const score = val ? val.loss : stats.loss;
      if (score < ctx.position.bestScore) {
        Object.assign(ctx.position, { bestScore: score, bestEpoch: epoch, stale: 0 });
        best = await snapshot(ctx);
        await saveCheckpoint(join(config.runDir, 'checkpoints', 'best'), gm, checkpointState(ctx));
      } else {
        ctx.position.stale++;
      }
      await saveCheckpoint(join(config.runDir, 'checkpoints', 'last'), gm, checkpointState(ctx), await optimizer.stateDict());
      if (io.interrupted?.()) throw new RunInterrupted(`interrupted: saved ${join(config.runDir, 'checkpoints', 'last')} after epoch ${epoch}; continue with --resume`);
      if (config.patience > 0 && ctx.position.stale >= config.patience) {
        io.log(`phase ${phase}: no val-loss improvement for ${config.patience} epochs: stopping early, restoring epoch ${ctx.position.bestEpoch}`);
        break;
      }
    }
    // Keras' restore_best_weights: the phase ends on its best epoch (and phase 2 starts from it).
    if (config.patience > 0 && ctx.position.bestEpoch > 0 && ctx.position.bestEpoch < ctx.position.epoch) {
      if (best) loadTorchStateDict(gm.model, best);
      else if (existsSync(join(config.runDir, 'checkpoints', 'best'))) loadCheckpoint(join(config.runDir, 'checkpoints', 'best'), gm);
    }
  } finally {
    io.progress.stop();
    optimizer.release();
    weightTensor?.release();
  }
}

/** Runs (or resumes) the whole training described by `config`. */
export async function runTraining(gpu: Gpu, config: TrainConfig, io: RunIO, options: { resume?: boolean; overwrite?: boolean } = {}): Promise<RunResult> {
  const dataset = openDataset(config);
  if (!options.resume && existsSync(join(config.runDir, 'config.json'))) {
    if (!options.overwrite) throw new Error(`${config.runDir} holds an earlier run: choose another --name, continue it with --resume, or replace it with --overwrite`);
    rmSync(config.runDir, { recursive: true, force: true });
  }
  try {
    mkdirSync(config.runDir, { recursive: true });
  } catch (e) {
    throw new Error(`cannot create the run folder ${config.runDir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose another --out`);
  }
  if (dataset.val.length === 0) io.warn('no validation images (use --val-split or a val/ folder): early stopping and the report use the training loss');
  const skipped = new Set<string>();
  const onSkip = (id: string, reason: string) => {
    if (!skipped.has(id)) io.warn(`skipped ${id}: ${reason}`);
    skipped.add(id);
  };
  manualSeed(config.seed); // the same config builds the same initial model, whatever ran before in this process
  const loaded = await loadBackbone(gpu, { model: config.model, weights: config.weights, alpha: config.alpha, warn: io.warn });
  const head = graftHead(gpu, loaded.numFeatures, { hidden: config.head.hidden, dropout: config.head.dropout, activation: config.head.activation, classes: dataset.classes.length });
  const gm = new GraftModel(loaded, head);
  const spec = imageSpecFor(loaded.preprocessing, config.size);
  const pool = createDecodePool(config.workers);
  const ctx: Context = {
    gpu,
    config,
    io,
    gm,
    dataset,
    spec,
    pool,
    trainFeed: { samples: dataset.train, spec, preprocessing: loaded.preprocessing, pool, onSkip },
    valFeed: { samples: dataset.val, spec, preprocessing: loaded.preprocessing, pool, onSkip },
    records: [],
    position: { phase: 1, epoch: 0, phaseEpoch: 0, bestScore: Infinity, bestEpoch: 0, stale: 0, dropoutSeeds: {} },
    skipped,
  };
  const result: RunResult = { runDir: config.runDir, classes: dataset.classes, records: ctx.records, phaseAccuracy: {}, interrupted: false, skipped: 0 };
  try {
    const last = join(config.runDir, 'checkpoints', 'last');
    if (options.resume) {
      const state = readCheckpointState(last);
      const expected = identity(config, dataset.classes);
      if (JSON.stringify(state.config) !== JSON.stringify(expected)) {
        throw new Error(`--resume: ${last} was made by another setup (${JSON.stringify(state.config)}), not ${JSON.stringify(expected)}`);
      }
      ctx.resume = loadCheckpoint(last, gm);
      ctx.position = { ...ctx.resume.state.position };
      const { readMetrics } = await import('../report/metrics.js');
      ctx.records.push(...readMetrics(join(config.runDir, 'metrics.jsonl'), io.warn).filter((r) => r.epoch <= ctx.position.epoch));
      io.log(`resuming ${config.runDir} at phase ${ctx.position.phase}, epoch ${ctx.position.epoch}`);
    } else {
      writeFileSync(join(config.runDir, 'config.json'), `${JSON.stringify({ ...config, classes: dataset.classes, preprocessing: loaded.preprocessing }, null, 2)}\n`);
    }
    const startPhase = ctx.resume ? ctx.resume.state.position.phase : 1;
    if (startPhase === 1) {
      await runPhase(ctx, 1, config.epochs, config.lr);
      result.phaseAccuracy[1] = ctx.records.filter((r) => r.phase === 1).at(-1)?.valAccuracy;
    }
    if (config.mode === 'finetune' && config.fineTuneEpochs > 0) {
      if (ctx.position.phase === 1 && !ctx.resume) ctx.position.phase = 2;
      await runPhase(ctx, 2, config.fineTuneEpochs, config.fineTuneLr ?? scaleLr(config.lr, 0.1));
      result.phaseAccuracy[2] = ctx.records.filter((r) => r.phase === 2).at(-1)?.valAccuracy;
    }
    await finish(ctx, result);
  } catch (e) {
    if (e instanceof RunInterrupted) {
      result.interrupted = true;
      io.warn(e.message);
    } else if (isOutOfMemory(e)) {
      throw new Error(`the GPU ran out of memory at --batch-size ${config.batchSize} (${config.size ?? 'default'} px inputs); try --batch-size ${Math.max(1, config.batchSize >> 1)} or a smaller --size. The last good checkpoint, if any, is in ${join(config.runDir, 'checkpoints', 'last')}`);
    } else throw e;
  } finally {
    await pool.close();
    gm.release();
  }
  result.skipped = skipped.size;
  return result;
}

/** WebGPU reports allocation failures as out-of-memory errors (Dawn: "Out of memory"; a failed createBuffer). */
function isOutOfMemory(e: unknown): boolean {
  return e instanceof Error && /out of memory|OutOfMemory|allocation failed/i.test(e.message);
}

/** `--lr` scaled by `factor` (numbers and name=value lists; a JSON config is used as is). */
export function scaleLr(spec: string, factor: number): string {
  if (/^[\d.eE+-]+$/.test(spec.trim())) return String(Number(spec) * factor);
  if (!spec.includes('=')) return spec;
  return spec
    .split(',')
    .map((pair) => {
      const [k, v] = pair.split('=');
      return `${k}=${Number(v) * factor}`;
    })
    .join(',');
}

/** Final evaluation (validation and test), the run's report and sample predictions. */
async function finish(ctx: Context, result: RunResult): Promise<void> {
  const { gm, config, dataset } = ctx;
  const evalOn = async (samples: typeof dataset.val) => {
    if (samples.length === 0) return undefined;
    return evaluate(gm, streamedBatches(gm, { ...ctx.valFeed, samples }, config.batchSize, config.seed, 0, undefined));
  };
  result.validation = ctx.valFeed.samples.length > 0 ? await evalOn(dataset.val) : undefined;
  result.test = await evalOn(dataset.test);
  const shown = result.test ?? result.validation;
  const shownSamples = result.test ? dataset.test : dataset.val;
  const k = dataset.classes.length;
  const confusion = shown ? confusionMatrix(shown.predictions.map((p) => p.label), shown.predictions.map((p) => p.predicted), k) : undefined;
  let samples: SamplePrediction[] | undefined;
  if (shown) {
    // The most confident mistakes first, then the rest in order: decode only those shown.
    const ranked = [...shown.predictions].sort((a, b) => Number(a.label === a.predicted) - Number(b.label === b.predicted) || b.probabilities[b.predicted]! - a.probabilities[a.predicted]!).slice(0, 24);
    samples = [];
    for (const p of ranked) {
      const image = await decodeImage(shownSamples[p.index]!.ref, { size: [96, 96], resize: 96 }).catch(() => undefined);
      if (image) samples.push({ image: { data: image, width: 96, height: 96 }, trueClass: p.label, predictedClass: p.predicted, confidence: p.probabilities[p.predicted]! });
    }
  }
  await writeReport(config.runDir, { config: { ...config, classes: dataset.classes }, records: ctx.records, classes: dataset.classes, confusion, samples });
  await saveCheckpoint(join(config.runDir, 'checkpoints', 'final'), gm, checkpointState(ctx));
}
