/**
 * Whole-step measurements for the model benchmarks: one inference (forward + read of the pooled
 * features) or one training step (forward + backward + Adam + read of the loss), graft and tfjs alike.
 *
 * Timing is wall clock around a whole step that ends in a read back to the host (graft:
 * `Tensor.read()`, which waits for the queue; tfjs: `await t.data()`): at seconds per step on a
 * software adapter the read of a few KB is noise, and per-pass GPU timestamps would leave out the
 * host-side work (graph recording, encoding) that a user waits for too. The first step is timed on
 * its own as "time to first step": it includes pipeline compilation (WGSL -> SPIR-V -> lavapipe's
 * LLVM) and first-touch allocations. Pipelines are cached per process, so a later case at shapes an
 * earlier case compiled starts warmer: cases run model by model, inference before training.
 *
 * Memory (training): graft's pool (`gpu.memory()`: bytes of pooled buffers handed out, size-classed),
 * peak from `resetPeak()` before the first step, steady after the last; tfjs's `tf.memory().numBytes`
 * (bytes of live tensors, not of its buffer pool) after the last step, and its peak from
 * `tf.profile()` of one extra, untimed step.
 */
import { Adam, backward, noGrad, softmaxCrossEntropy, tensor, type Layer, type Module, type Tensor } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { graftHead } from '@graft/models';
import type * as tfjs from '@tensorflow/tfjs';
import { GraftModel } from '@graft/cli';
import type { TfAll } from './peers.js';

export interface RepetitionPlan {
  /** Untimed steps after the first (which is timed on its own as time to first step). */
  warmup: number;
  reps: number;
}

export interface StepTiming {
  /** Wall time of the first step (pipeline compilation included). */
  firstStepMs: number;
  medianMs: number;
  samplesMs: number[];
  imagesPerSecond: number;
}

export interface Memory {
  peakBytes: number | null;
  steadyBytes: number;
  /** Before the first step: weights (+ input). */
  beforeBytes: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function timing(firstStepMs: number, samplesMs: number[], batch: number): StepTiming {
  const medianMs = median(samplesMs);
  return { firstStepMs, medianMs, samplesMs, imagesPerSecond: (1000 * batch) / medianMs };
}

async function timed<T>(step: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await step();
  return { ms: performance.now() - start, value };
}

/**
 * Times graft's step and its peer's in alternating rounds: each first step alone (time to first
 * step), `check` on their results (it may throw to stop before any timing counts), then `warmup`
 * rounds, then `reps` rounds whose order flips every round, so load from other processes, which on
 * a shared CPU adapter drifts over seconds, falls on both sides alike. Without a peer, graft alone.
 */
export async function timeAlternating<G, P>(
  graft: () => Promise<G>,
  peer: (() => Promise<P>) | null,
  plan: RepetitionPlan,
  batch: number,
  check?: (graftFirst: G, peerFirst: P) => void,
): Promise<{ graft: { timing: StepTiming; first: G }; peer: { timing: StepTiming; first: P } | null }> {
  const g1 = await timed(graft);
  const p1 = peer ? await timed(peer) : null;
  if (peer && check) check(g1.value, p1!.value);
  for (let i = 0; i < plan.warmup; i++) {
    await graft();
    if (peer) await peer();
  }
  const samples = { graft: [] as number[], peer: [] as number[] };
  for (let i = 0; i < plan.reps; i++) {
    const order = i % 2 === 0 ? (['graft', 'peer'] as const) : (['peer', 'graft'] as const);
    for (const side of order) {
      if (side === 'graft') samples.graft.push((await timed(graft)).ms);
      else if (peer) samples.peer.push((await timed(peer)).ms);
    }
  }
  return {
    graft: { timing: timing(g1.ms, samples.graft, batch), first: g1.value },
    peer: p1 ? { timing: timing(p1.ms, samples.peer, batch), first: p1.value } : null,
  };
}

/** A step ready to time, and what to do once timing is over (measure what needs the step's state, free). */
export interface PreparedStep<T, R> {
  step: () => Promise<T>;
  finish: () => Promise<R>;
}

/** Seeded uniform values in [-1, 1) (MobileNetV2's input range; fine for ResNet-50 too). */
export function seededInput(n: number, seed = 1234): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

export function prepareGraftInference(gpu: Gpu, model: Layer, input: Float32Array, shape: number[]): PreparedStep<Float32Array, void> {
  const x = tensor(gpu, input, shape);
  const step = async () => {
    const y = noGrad(() => model.forward(x));
    try {
      return await y.read();
    } finally {
      y.release();
    }
  };
  return { step, finish: async () => x.release() };
}

export function prepareTfjsInference(tf: TfAll, model: tfjs.LayersModel, input: Float32Array, shape: number[]): PreparedStep<Float32Array, void> {
  const x = tf.tensor4d(input, shape as [number, number, number, number]);
  const step = async () => {
    const y = model.predict(x) as tfjs.Tensor;
    try {
      return (await y.data()) as Float32Array;
    } finally {
      y.dispose();
    }
  };
  return { step, finish: async () => x.dispose() };
}

export type Regime = 'head' | 'last' | 'all';

export interface TrainSetup {
  modelName: 'mobilenet_v2' | 'resnet50';
  backbone: Module & Layer;
  numFeatures: number;
  classes: number;
  /** graft units (GraftModel.units) the 'last' regime trains. */
  lastUnits: number;
  lr: number;
}

/**
 * graft's training step as the CLI runs it (train/loop.ts): the frozen prefix without a graph, the
 * trainable suffix and a new head with one. Batch norms: frozen (running statistics) in the frozen
 * prefix and, as Keras recommends for fine-tuning, in unfrozen blocks too ('last'); batch statistics
 * everywhere when everything trains ('all'). Returns the head's initial weights for the tfjs peer.
 */
/**
 * The model a training case steps: the backbone with a new head in `regime`, the input on the GPU and
 * Adam over what trains; `release` frees them and leaves the backbone frozen, in inference mode.
 */
function graftTraining(gpu: Gpu, setup: TrainSetup, regime: Regime, input: Float32Array, shape: number[]) {
  const head = graftHead(gpu, setup.numFeatures, { classes: setup.classes });
  const gm = new GraftModel({ backbone: setup.backbone, model: setup.modelName, flavour: 'keras', numFeatures: setup.numFeatures } as ConstructorParameters<typeof GraftModel>[0], head);
  if (regime === 'last') gm.setTrainable(setup.lastUnits, 'frozen');
  if (regime === 'all') gm.setTrainable(gm.units.length, 'train');
  const x = tensor(gpu, input, shape);
  const optimizer = new Adam(gm.model, { lr: setup.lr });
  gm.train();
  const release = () => {
    optimizer.release();
    x.release();
    head.release();
    // The backbone goes back to inference mode and fully frozen for the next case.
    gm.setTrainable(0, 'frozen');
    gm.eval();
  };
  return { head, gm, x, optimizer, release };
}

export async function prepareGraftTrain(gpu: Gpu, setup: TrainSetup, regime: Regime, input: Float32Array, shape: number[], labels: Uint32Array) {
  const { head, gm, x, optimizer, release } = graftTraining(gpu, setup, regime, input, shape);
  const [w, b] = head.parameters() as [Tensor, Tensor];
  const headWeights = { weight: await w.read(), bias: await b.read() };
  const trainableParameters = gm.model.parameters().filter((p) => p.requiresGrad).reduce((n, p) => n + p.size, 0);
  await gpu.sync();
  const beforeBytes = gpu.memory().bytesInUse;
  gpu.pool.resetPeak();
  const step = async () => {
    const loss = gm.trainStep(x, labels, optimizer);
    try {
      return (await loss.read())[0]!;
    } finally {
      loss.release();
    }
  };
  const finish = async (): Promise<Memory> => {
    try {
      await gpu.sync();
      const stats = gpu.memory();
      return { peakBytes: stats.peakBytesInUse, steadyBytes: stats.bytesInUse, beforeBytes };
    } finally {
      release();
    }
  };
  return { step, finish, headWeights, trainableParameters };
}

/** graft's pool after a sync: bytes handed out and buffers ever created (either grows when a step leaks). */
export interface PoolPoint {
  step: number;
  bytesInUse: number;
  buffersCreated: number;
}

export interface MemoryOverSteps {
  points: PoolPoint[];
  /** bytesInUse and buffersCreated at the last point equal those at the first. */
  flat: boolean;
  /** Wall time of all the steps, and the median step of the last 100 (milliseconds). */
  totalMs: number;
  stepMs: number;
  firstLoss: number;
  lastLoss: number;
}

/**
 * Issue requirement "GPU memory after step 10 equals memory after step 1,000", at model level: the
 * same training step as graftTrain (GraftModel prefix/suffix, Adam), `steps` times on one batch, the
 * pool's counters read after `gpu.sync()` at each step in `at` (e.g. 10 and 1,000). The loss is read
 * back every step, as the CLI's progress line does.
 */
export async function graftMemoryOverSteps(gpu: Gpu, setup: TrainSetup, regime: Regime, input: Float32Array, shape: number[], labels: Uint32Array, steps: number, at: readonly number[]): Promise<MemoryOverSteps> {
  const { gm, x, optimizer, release } = graftTraining(gpu, setup, regime, input, shape);
  const points: PoolPoint[] = [];
  const times: number[] = [];
  let firstLoss = Number.NaN;
  let lastLoss = Number.NaN;
  try {
    const start = performance.now();
    for (let step = 1; step <= steps; step++) {
      const t = performance.now();
      const loss = gm.trainStep(x, labels, optimizer);
      lastLoss = (await loss.read())[0]!;
      loss.release();
      if (step === 1) firstLoss = lastLoss;
      if (at.includes(step)) {
        await gpu.sync();
        const { bytesInUse, buffersCreated } = gpu.memory();
        points.push({ step, bytesInUse, buffersCreated });
      }
      times.push(performance.now() - t);
    }
    const totalMs = performance.now() - start;
    const first = points[0];
    const last = points[points.length - 1];
    const flat = !!first && !!last && first.bytesInUse === last.bytesInUse && first.buffersCreated === last.buffersCreated;
    return { points, flat, totalMs, stepMs: median(times.slice(-100)), firstLoss, lastLoss };
  } finally {
    await gpu.sync();
    release();
  }
}

/** The largest single tensor graft allocated, and the largest storage binding a kernel was handed. */
export interface AllocationWatch {
  largestTensor: { bytes: number; shape: number[] } | null;
  largestBinding: { bytes: number; shape: number[]; kernel: string; binding: number } | null;
  /** Stops watching (puts back the Gpu's own methods). */
  stop(): void;
}

/**
 * Watches `gpu.allocate` and `gpu.dispatch` on this Gpu object (the kernels package is untouched):
 * every tensor's byte length, and every storage binding's, recorded before the call goes through, so a
 * dispatch that fails on maxStorageBufferBindingSize is still counted.
 */
export function watchAllocations(gpu: Gpu): AllocationWatch {
  const allocate = gpu.allocate;
  const dispatch = gpu.dispatch;
  const watch: AllocationWatch = {
    largestTensor: null,
    largestBinding: null,
    stop: () => {
      gpu.allocate = allocate;
      gpu.dispatch = dispatch;
    },
  };
  gpu.allocate = function (this: Gpu, ...args: Parameters<Gpu['allocate']>) {
    const t = allocate.apply(this, args);
    if (t.byteLength > (watch.largestTensor?.bytes ?? 0)) watch.largestTensor = { bytes: t.byteLength, shape: [...t.shape] };
    return t;
  };
  gpu.dispatch = function (this: Gpu, ...args: Parameters<Gpu['dispatch']>) {
    const [kernel, spec] = args;
    spec.bindings.forEach((t, i) => {
      if (t.byteLength > (watch.largestBinding?.bytes ?? 0)) {
        watch.largestBinding = { bytes: t.byteLength, shape: [...t.shape], kernel: `${kernel.name}${spec.entryPoint ? `:${spec.entryPoint}` : ''}`, binding: i + 1 };
      }
    });
    return dispatch.apply(this, args);
  };
  return watch;
}

export interface FitResult {
  completed: boolean;
  error?: string;
  /** Wall time of the one step (pipeline compilation included if this is the first at these shapes). */
  stepMs: number;
  loss?: number;
  /** graft's pool: before the step (weights, input), peak during it, after it (weights + Adam state). */
  beforeBytes: number;
  peakBytes: number;
  afterBytes: number;
  largestTensor: AllocationWatch['largestTensor'];
  largestBinding: AllocationWatch['largestBinding'];
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
}

/**
 * Issue requirement "training at batch 32, 224x224, fits in the adapter's limits (storage binding size
 * included)": one training step of `regime` (graftTrain's step), with the largest tensor and binding
 * watched and the pool's peak recorded; failures (DeviceLimitError, out of memory) are the result.
 */
export async function graftFits(gpu: Gpu, setup: TrainSetup, regime: Regime, input: Float32Array, shape: number[], labels: Uint32Array): Promise<FitResult> {
  const { gm, x, optimizer, release } = graftTraining(gpu, setup, regime, input, shape);
  const limits = { maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize, maxBufferSize: gpu.limits.maxBufferSize };
  await gpu.sync();
  const beforeBytes = gpu.memory().bytesInUse;
  gpu.pool.resetPeak();
  const watch = watchAllocations(gpu);
  const start = performance.now();
  let completed = false;
  let error: string | undefined;
  let loss: number | undefined;
  try {
    const l = gm.trainStep(x, labels, optimizer);
    loss = (await l.read())[0]!;
    l.release();
    await gpu.sync();
    completed = Number.isFinite(loss);
    if (!completed) error = `non-finite loss ${loss}`;
  } catch (e) {
    error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    await gpu.sync().catch(() => {});
  } finally {
    watch.stop();
  }
  const stepMs = performance.now() - start;
  const stats = gpu.memory();
  try {
    return { completed, error, stepMs, loss, beforeBytes, peakBytes: stats.peakBytesInUse, afterBytes: stats.bytesInUse, largestTensor: watch.largestTensor, largestBinding: watch.largestBinding, limits };
  } finally {
    release();
    await gpu.sync();
  }
}

/**
 * The tfjs peer of graftTrain: the backbone + a Dense head holding graft's head's initial weights;
 * Adam over the trainable variables only (so tfjs differentiates only down to the first of them);
 * `training` false (batch norms on moving statistics) unless everything trains.
 */
export function prepareTfjsTrain(tf: TfAll, backbone: tfjs.LayersModel, setup: TrainSetup, regime: Regime, lastLayers: RegExp, headWeights: { weight: Float32Array; bias: Float32Array }, input: Float32Array, shape: number[], labels: Uint32Array) {
  const { numFeatures: f, classes: k } = setup;
  const dense = tf.layers.dense({ units: k, name: `bench_head_${regime}` });
  const full = tf.model({ inputs: backbone.inputs, outputs: dense.apply(backbone.outputs[0]!) as tfjs.SymbolicTensor });
  const kernel = new Float32Array(f * k);
  for (let o = 0; o < k; o++) for (let i = 0; i < f; i++) kernel[i * k + o] = headWeights.weight[o * f + i]!;
  dense.setWeights([tf.tensor2d(kernel, [f, k]), tf.tensor1d(headWeights.bias)]);
  const trains = (layerName: string) => layerName === dense.name || regime === 'all' || (regime === 'last' && lastLayers.test(layerName));
  // nsfwjs saved some layers with trainable: false; what trains here is this regime's choice, as in graft.
  const trained = full.layers.filter((l) => trains(l.name));
  for (const l of trained) l.trainable = true;
  const vars = trained.flatMap((l) => l.trainableWeights.map((w) => w.read() as tfjs.Variable));
  const trainableParameters = vars.reduce((n, v) => n + v.size, 0);
  const training = regime === 'all';
  const x = tf.tensor4d(input, shape as [number, number, number, number]);
  const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), k));
  const optimizer = tf.train.adam(setup.lr);
  const beforeBytes = tf.memory().numBytes;
  const step = async () => {
    const cost = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(oneHot, full.apply(x, { training }) as tfjs.Tensor) as tfjs.Scalar, true, vars)!;
    try {
      return (await cost.data())[0]!;
    } finally {
      cost.dispose();
    }
  };
  const finish = async (): Promise<Memory> => {
    try {
      const steadyBytes = tf.memory().numBytes;
      let peakBytes: number | null = null;
      try {
        tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false);
        peakBytes = (await tf.profile(async () => void (await step()))).peakBytes;
      } catch {
        // tf.profile unavailable on this backend: the peak stays unmeasured (null in the report)
      }
      return { peakBytes, steadyBytes, beforeBytes };
    } finally {
      optimizer.dispose();
      x.dispose();
      oneHot.dispose();
      dense.dispose();
    }
  };
  return { step, finish, trainableParameters };
}
