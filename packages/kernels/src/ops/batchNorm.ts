/**
 * Batch normalization over NHWC activations, statistics per channel over N*H*W: training forward
 * (batch statistics, running statistics updated in place), inference forward (running statistics
 * as one per-channel scale/shift) and backward in both modes.
 * Kernels: batchNormSquaredDeviations, batchNormFinalize, batchNormApply(Vec4), batchNormBackwardReduce,
 * batchNormBackwardInput(Vec4) (+ sumRows); the Vec4 variants serve C % 4 == 0.
 * Folding into a convolution lives in batchNormFold.ts. See docs/kernels/batchNorm.md.
 */
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { runOnHost } from '../runtime/host.js';
import { defineKernel } from '../runtime/kernel.js';
import { GpuTensor, shapeToString, type HostTensor } from '../runtime/tensor.js';
import { activationCode, expectDType, expectFinite, expectRank, expectShape, groupsFor, type Activation } from '../runtime/validate.js';
import { linearWorkgroups } from '../runtime/workgroups.js';
import { sumRows } from './sumRows.js';

const squaredDeviations = defineKernel('batchNormSquaredDeviations', import.meta.url);
const finalize = defineKernel('batchNormFinalize', import.meta.url);
const apply = defineKernel('batchNormApply', import.meta.url);
const applyVec4 = defineKernel('batchNormApplyVec4', import.meta.url);
const backwardReduce = defineKernel('batchNormBackwardReduce', import.meta.url);
const backwardInput = defineKernel('batchNormBackwardInput', import.meta.url);
const backwardInputVec4 = defineKernel('batchNormBackwardInputVec4', import.meta.url);

/** Rows one invocation of a reduction pass walks (as sumRows): long enough to amortise the launch, short enough for many invocations. */
const rowsPerChunk = 128;
/**
 * Elementwise passes: the scalar kernels compute 4 elements per invocation; when C % 4 == 0 the
 * vec4 kernels compute 4 vec4s (16 elements), measured 2-5x faster on lavapipe. 64 invocations per workgroup.
 */
const elementsPerInvocation = 4;
const elementsPerVec4Invocation = 16;
const workgroupSize = 64;

/** PyTorch's defaults. Keras uses eps = 1e-3 and momentum 0.99 in its own convention (see kerasMomentum). */
export const batchNormDefaults = { eps: 1e-5, momentum: 0.1 } as const;

/**
 * Keras' BatchNormalization(momentum = m) keeps running = m * running + (1 - m) * batch; graft (like
 * PyTorch) keeps running = (1 - momentum) * running + momentum * batch. So Keras 0.99 is momentum 0.01.
 * Keras also feeds the biased batch variance into moving_variance: pass unbiasedRunningVar = false.
 */
export function kerasMomentum(kerasM: number): { momentum: number; unbiasedRunningVar: false } {
  return { momentum: 1 - kerasM, unbiasedRunningVar: false };
}

export interface BatchNormParams {
  /** [C]; absent means 1 (affine = false). */
  gamma?: GpuTensor | undefined;
  /** [C]; absent means 0. */
  beta?: GpuTensor | undefined;
  /** [C]; updated in place by training, read by inference. */
  runningMean?: GpuTensor | undefined;
  runningVar?: GpuTensor | undefined;
}

export interface BatchNormOptions {
  /** Added to the variance before the square root. Default 1e-5 (PyTorch); Keras uses 1e-3. */
  eps?: number;
  /** PyTorch convention: running = (1 - momentum) * running + momentum * batch. Default 0.1. */
  momentum?: number;
  /** Unbiased (count / (count - 1)) batch variance into runningVar, as PyTorch. Default true; Keras: false. */
  unbiasedRunningVar?: boolean;
  activation?: Activation;
}

export interface BatchNormTrainingResult {
  y: GpuTensor;
  /** Batch mean [C], saved for the backward pass. */
  mean: GpuTensor;
  /** 1 / sqrt(batch variance + eps) [C], saved for the backward pass. */
  invstd: GpuTensor;
}

export interface BatchNormInferenceResult {
  y: GpuTensor;
  /** 1 / sqrt(runningVar + eps) [C], for the frozen-statistics backward (whose mean is runningMean). */
  invstd: GpuTensor;
}

interface Dims {
  n: number;
  h: number;
  w: number;
  c: number;
  /** N * H * W: values per channel. */
  count: number;
}

function dimsOf(kernel: string, x: GpuTensor): Dims {
  expectRank(kernel, 'x', x, 4, 'NHWC');
  expectDType(kernel, 'x', x, 'f32');
  const [n, h, w, c] = x.shape as [number, number, number, number];
  return { n, h, w, c, count: n * h * w };
}

function checkParams(kernel: string, params: BatchNormParams, c: number): void {
  for (const name of ['gamma', 'beta', 'runningMean', 'runningVar'] as const) {
    const t = params[name];
    if (t) {
      expectShape(kernel, name, t, [c], 'one per channel of x');
      expectDType(kernel, name, t, 'f32');
    }
  }
}

function checkOptions(kernel: string, options: BatchNormOptions): { eps: number; momentum: number; activation: number } {
  const eps = options.eps ?? batchNormDefaults.eps;
  const momentum = options.momentum ?? batchNormDefaults.momentum;
  expectFinite(kernel, 'eps', eps);
  if (eps < 0) throw new KernelArgumentError(kernel, 'eps', 'a non-negative number', String(eps));
  if (!(momentum >= 0 && momentum <= 1)) throw new KernelArgumentError(kernel, 'momentum', 'a number in [0, 1] (PyTorch convention)', String(momentum));
  return { eps, momentum, activation: activationCode(kernel, options.activation) };
}

/** Invocations of an elementwise pass over `size` elements (4 scalars or 4 vec4s each). */
function elementwiseInvocations(size: number, vec4: boolean): number {
  return groupsFor(size, vec4 ? elementsPerVec4Invocation : elementsPerInvocation);
}

/** Sum over row chunks of a [rows, c] view, then sumRows over the [chunks, c] partials (scaled). */
function finishChunks(gpu: Gpu, partial: GpuTensor, c: number, chunks: number, scale: number): GpuTensor {
  if (chunks === 1 && scale === 1) return partial.reshape([c]);
  const total = sumRows(gpu, chunks === 1 ? partial.reshape([1, c]) : partial, c, scale);
  gpu.release(partial);
  return total;
}

/**
 * Per-channel batch mean and biased variance of an NHWC tensor, in two passes (mean, then the mean
 * of squared deviations from it) so the variance keeps its precision when |mean| >> std.
 */
export function batchNormStatistics(gpu: Gpu, x: GpuTensor): { mean: GpuTensor; variance: GpuTensor } {
  const { c, count } = dimsOf('batchNormStatistics', x);
  const mean = sumRows(gpu, x, c, 1 / count);
  const chunks = groupsFor(count, rowsPerChunk);
  const partial = gpu.allocate([chunks, c]);
  gpu.dispatch(squaredDeviations, {
    bindings: [x, mean, partial],
    uniforms: { rows: count, c, rows_per_chunk: rowsPerChunk },
    workgroups: [groupsFor(c, workgroupSize), ...linearWorkgroups(gpu.limits, chunks, 1, squaredDeviations.name)],
  });
  return { mean, variance: finishChunks(gpu, partial, c, chunks, 1 / count) };
}

/** Stand-ins for absent running buffers: the finalize kernel binds them read-write, so the shared read-only placeholder cannot serve. */
function scratchPair(gpu: Gpu, params: BatchNormParams): { runningMean: GpuTensor; runningVar: GpuTensor; scratch: GpuTensor[] } {
  const scratch: GpuTensor[] = [];
  const runningMean = params.runningMean ?? scratch[scratch.push(gpu.allocate([1])) - 1]!;
  const runningVar = params.runningVar ?? scratch[scratch.push(gpu.allocate([1])) - 1]!;
  return { runningMean, runningVar, scratch };
}

/**
 * The per-channel affine map y = x * scale + shift ([2, C]: scale row, shift row) and invstd, from batch
 * statistics (training, updating running buffers when given) or from running statistics (inference).
 */
function finalizeStatistics(
  gpu: Gpu,
  c: number,
  count: number,
  params: BatchNormParams,
  batch: { mean: GpuTensor; variance: GpuTensor } | null,
  eps: number,
  momentum: number,
  unbiasedRunningVar: boolean,
): { scaleShift: GpuTensor; invstd: GpuTensor } {
  const invstd = gpu.allocate([c]);
  const scaleShift = gpu.allocate([2, c]);
  const { runningMean, runningVar, scratch } = scratchPair(gpu, params);
  const placeholder = gpu.placeholder();
  gpu.dispatch(finalize, {
    bindings: [
      batch?.mean ?? placeholder,
      batch?.variance ?? placeholder,
      params.gamma ?? placeholder,
      params.beta ?? placeholder,
      runningMean,
      runningVar,
      invstd,
      scaleShift,
    ],
    uniforms: {
      c,
      count,
      eps,
      momentum,
      is_training: batch ? 1 : 0,
      update_running: batch && params.runningMean && params.runningVar ? 1 : 0,
      unbiased_running: unbiasedRunningVar ? 1 : 0,
      has_gamma: params.gamma ? 1 : 0,
      has_beta: params.beta ? 1 : 0,
    },
    workgroups: [groupsFor(c, workgroupSize)],
  });
  gpu.release(...scratch);
  return { scaleShift, invstd };
}

/** y = act(x * scale[c] + shift[c]) with scaleShift [2, C]: the elementwise pass of both modes. */
export function batchNormApply(gpu: Gpu, x: GpuTensor, scaleShift: GpuTensor, activation?: Activation, out?: GpuTensor): GpuTensor {
  const { c } = dimsOf('batchNormApply', x);
  expectShape('batchNormApply', 'scaleShift', scaleShift, [2, c], 'scale row, shift row');
  expectDType('batchNormApply', 'scaleShift', scaleShift, 'f32');
  const code = activationCode('batchNormApply', activation);
  if (out) {
    expectShape('batchNormApply', 'out', out, x.shape);
    expectDType('batchNormApply', 'out', out, 'f32');
  }
  const y = out ?? gpu.allocate(x.shape);
  const vec4 = c % 4 === 0;
  gpu.dispatch(vec4 ? applyVec4 : apply, {
    bindings: [x, scaleShift, y],
    uniforms: vec4 ? { size_vec: x.size / 4, c_vec: c / 4, activation: code } : { size: x.size, c, activation: code },
    workgroups: linearWorkgroups(gpu.limits, elementwiseInvocations(x.size, vec4), workgroupSize, 'batchNormApply'),
  });
  return y;
}

/**
 * Training-mode forward: normalizes with the batch statistics and, when runningMean/runningVar are
 * given, updates them in place (PyTorch convention; see kerasMomentum). Throws for N*H*W = 1, as
 * PyTorch does: one value per channel has no variance to normalize by, nor an unbiased one to keep.
 */
export function batchNormTraining(gpu: Gpu, x: GpuTensor, params: BatchNormParams = {}, options: BatchNormOptions = {}): BatchNormTrainingResult {
  const kernel = 'batchNormTraining';
  const { c, count } = dimsOf(kernel, x);
  checkParams(kernel, params, c);
  const { eps, momentum } = checkOptions(kernel, options);
  if (count < 2) throw new KernelArgumentError(kernel, 'x', 'more than one value per channel (N*H*W > 1) in training', shapeToString(x.shape));
  if (!params.runningMean !== !params.runningVar) {
    throw new KernelArgumentError(kernel, params.runningMean ? 'runningVar' : 'runningMean', 'given together with its partner running buffer', 'absent');
  }
  const batch = batchNormStatistics(gpu, x);
  const { scaleShift, invstd } = finalizeStatistics(gpu, c, count, params, batch, eps, momentum, options.unbiasedRunningVar ?? true);
  const y = batchNormApply(gpu, x, scaleShift, options.activation);
  gpu.release(scaleShift, batch.variance);
  return { y, mean: batch.mean, invstd };
}

/**
 * The per-channel scale/shift ([2, C]) and invstd inference applies, from the running statistics.
 * A frozen layer can compute it once and call batchNormApply every step.
 */
export function batchNormScaleShift(gpu: Gpu, params: BatchNormParams, options: Omit<BatchNormOptions, 'activation' | 'momentum'> = {}): { scaleShift: GpuTensor; invstd: GpuTensor } {
  const kernel = 'batchNormScaleShift';
  if (!params.runningMean) throw new KernelArgumentError(kernel, 'runningMean', 'a [C] tensor (inference normalizes with running statistics)', 'absent');
  if (!params.runningVar) throw new KernelArgumentError(kernel, 'runningVar', 'a [C] tensor (inference normalizes with running statistics)', 'absent');
  expectRank(kernel, 'runningMean', params.runningMean, 1, '[C]');
  const c = params.runningMean.shape[0]!;
  checkParams(kernel, params, c);
  const { eps } = checkOptions(kernel, options);
  return finalizeStatistics(gpu, c, 1, params, null, eps, 0, true);
}

/** Inference-mode forward: y = act(gamma * (x - runningMean) / sqrt(runningVar + eps) + beta) as one scale/shift pass. */
export function batchNormInference(gpu: Gpu, x: GpuTensor, params: BatchNormParams, options: Omit<BatchNormOptions, 'momentum'> = {}): BatchNormInferenceResult {
  const { c } = dimsOf('batchNormInference', x);
  checkParams('batchNormInference', params, c);
  activationCode('batchNormInference', options.activation);
  const { scaleShift, invstd } = batchNormScaleShift(gpu, params, options);
  const y = batchNormApply(gpu, x, scaleShift, options.activation);
  gpu.release(scaleShift);
  return { y, invstd };
}

export interface BatchNormGrads {
  dx?: GpuTensor;
  dgamma?: GpuTensor;
  dbeta?: GpuTensor;
}

export interface BatchNormSaved {
  /** The mean the forward pass normalized with: batch mean (training) or runningMean (frozen). */
  mean: GpuTensor;
  /** The matching 1 / sqrt(var + eps). */
  invstd: GpuTensor;
  gamma?: GpuTensor | undefined;
}

/**
 * Gradients of y = gamma * (x - mean) * invstd + beta from dy (a fused activation's derivative is
 * applied to dy beforehand). batchStatistics: the forward used this batch's statistics (training),
 * so dx also flows through mean and variance; false: statistics were frozen (inference / 'affine'
 * mode) and dx = dy * gamma * invstd. Only the requested gradients are computed.
 */
export function batchNormBackward(
  gpu: Gpu,
  dy: GpuTensor,
  x: GpuTensor,
  saved: BatchNormSaved,
  batchStatistics: boolean,
  wanted: { x?: boolean; gamma?: boolean; beta?: boolean } = { x: true, gamma: true, beta: true },
): BatchNormGrads {
  const kernel = 'batchNormBackward';
  const { c, count } = dimsOf(kernel, x);
  expectShape(kernel, 'dy', dy, x.shape, 'same as x');
  expectDType(kernel, 'dy', dy, 'f32');
  expectShape(kernel, 'mean', saved.mean, [c], 'one per channel of x');
  expectDType(kernel, 'mean', saved.mean, 'f32');
  expectShape(kernel, 'invstd', saved.invstd, [c], 'one per channel of x');
  expectDType(kernel, 'invstd', saved.invstd, 'f32');
  if (saved.gamma) {
    expectShape(kernel, 'gamma', saved.gamma, [c], 'one per channel of x');
    expectDType(kernel, 'gamma', saved.gamma, 'f32');
  }

  const grads: BatchNormGrads = {};
  const needSums = wanted.gamma || (wanted.x && batchStatistics);
  let sumDy: GpuTensor | undefined;
  let sumDyXhat: GpuTensor | undefined;
  if (needSums) {
    const chunks = groupsFor(count, rowsPerChunk);
    const partialDy = gpu.allocate([chunks, c]);
    const partialDyXhat = gpu.allocate([chunks, c]);
    gpu.dispatch(backwardReduce, {
      bindings: [dy, x, saved.mean, saved.invstd, partialDy, partialDyXhat],
      uniforms: { rows: count, c, rows_per_chunk: rowsPerChunk },
      workgroups: [groupsFor(c, workgroupSize), ...linearWorkgroups(gpu.limits, chunks, 1, backwardReduce.name)],
    });
    sumDy = finishChunks(gpu, partialDy, c, chunks, 1);
    sumDyXhat = finishChunks(gpu, partialDyXhat, c, chunks, 1);
  } else if (wanted.beta) {
    sumDy = sumRows(gpu, dy, c);
  }

  if (wanted.x) {
    const vec4 = c % 4 === 0;
    const placeholder = gpu.placeholder();
    grads.dx = gpu.allocate(x.shape);
    const flags = { batch_statistics: batchStatistics ? 1 : 0, has_gamma: saved.gamma ? 1 : 0, count };
    gpu.dispatch(vec4 ? backwardInputVec4 : backwardInput, {
      bindings: [
        dy,
        x,
        saved.mean,
        saved.invstd,
        saved.gamma ?? placeholder,
        batchStatistics ? sumDy! : placeholder,
        batchStatistics ? sumDyXhat! : placeholder,
        grads.dx,
      ],
      uniforms: vec4 ? { ...flags, size_vec: x.size / 4, c_vec: c / 4 } : { ...flags, size: x.size, c },
      workgroups: linearWorkgroups(gpu.limits, elementwiseInvocations(x.size, vec4), workgroupSize, 'batchNormBackwardInput'),
    });
  }
  if (wanted.beta) grads.dbeta = sumDy;
  else gpu.release(sumDy);
  if (wanted.gamma) grads.dgamma = sumDyXhat;
  else gpu.release(sumDyXhat);
  return grads;
}

// ---- host variants ------------------------------------------------------------------------------

export interface BatchNormHostParams {
  gamma?: HostTensor | undefined;
  beta?: HostTensor | undefined;
  runningMean?: HostTensor | undefined;
  runningVar?: HostTensor | undefined;
}

export function batchNormStatisticsHost(gpu: Gpu, x: HostTensor): Promise<{ mean: HostTensor; variance: HostTensor }> {
  return runOnHost(gpu, { x }, (t) => batchNormStatistics(gpu, t.x));
}

/** Returns the updated running statistics too (the GPU function updates them in place). */
export function batchNormTrainingHost(gpu: Gpu, x: HostTensor, params: BatchNormHostParams = {}, options: BatchNormOptions = {}) {
  return runOnHost(gpu, { x, ...params }, (t) => {
    const { x: xt, ...p } = t;
    return { ...batchNormTraining(gpu, xt, p, options), runningMean: p.runningMean, runningVar: p.runningVar };
  });
}

export function batchNormInferenceHost(gpu: Gpu, x: HostTensor, params: BatchNormHostParams, options: Omit<BatchNormOptions, 'momentum'> = {}) {
  return runOnHost(gpu, { x, ...params }, (t) => {
    const { x: xt, ...p } = t;
    return batchNormInference(gpu, xt, p, options);
  });
}

export function batchNormBackwardHost(
  gpu: Gpu,
  dy: HostTensor,
  x: HostTensor,
  saved: { mean: HostTensor; invstd: HostTensor; gamma?: HostTensor | undefined },
  batchStatistics: boolean,
  wanted?: { x?: boolean; gamma?: boolean; beta?: boolean },
) {
  return runOnHost(gpu, { dy, x, mean: saved.mean, invstd: saved.invstd, gamma: saved.gamma }, (t) =>
    batchNormBackward(gpu, t.dy, t.x, { mean: t.mean, invstd: t.invstd, gamma: t.gamma }, batchStatistics, wanted),
  );
}
