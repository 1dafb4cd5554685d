/**
 * Softmax cross-entropy with logits (PyTorch's F.cross_entropy with `weight` and `label_smoothing`),
 * its backward, and a row-wise softmax for prediction. See softmaxCrossEntropy.wgsl and
 * docs/kernels/losses.md.
 *
 * Forward: one row pass writes per-sample losses, sample weights w[y_i] and the residual
 * d loss_i / d logits (saved for the backward); 'mean' and 'sum' reduce with sumRows. Backward: one
 * flat pass scales the residual by upstream / normaliser, both read from GPU tensors.
 */
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { runOnHost } from '../runtime/host.js';
import { defineKernel } from '../runtime/kernel.js';
import type { GpuTensor, HostTensor } from '../runtime/tensor.js';
import { expectDType, expectOneOf, expectRank, expectShape, groupsFor } from '../runtime/validate.js';
import { linearWorkgroups } from '../runtime/workgroups.js';
import { sumAll, sumRows } from './sumRows.js';

const forwardKernel = defineKernel('softmaxCrossEntropy', import.meta.url);
const meanKernel = defineKernel('softmaxCrossEntropyMean', import.meta.url);
const backwardKernel = defineKernel('softmaxCrossEntropyBackward', import.meta.url);
const softmaxKernel = defineKernel('softmax', import.meta.url);

/** Must match ROWS_PER_WORKGROUP in softmaxCrossEntropy.wgsl and softmax.wgsl (one row per invocation). */
const rowsPerWorkgroup = 16;
/** Must match ELEMENTS_PER_INVOCATION in softmaxCrossEntropyBackward.wgsl. */
const elementsPerInvocation = 4;
const workgroupSize = 64; // WORKGROUP_SIZE in softmaxCrossEntropyBackward.wgsl

export type Reduction = 'mean' | 'sum' | 'none';
export const reductions: readonly Reduction[] = ['mean', 'sum', 'none'];
const reductionCodes: Record<Reduction, number> = { mean: 0, sum: 1, none: 2 };

export interface SoftmaxCrossEntropyOptions {
  /** eps in [0, 1): target = (1 - eps) onehot + eps / k. */
  labelSmoothing?: number;
  /** Class weights [k]. */
  weight?: GpuTensor;
  /** Default 'mean' (divides by sum_i weight[label_i], which is n without weights). */
  reduction?: Reduction;
}

export interface SoftmaxCrossEntropyResult {
  /** [1] for 'mean' and 'sum', [n] for 'none'. */
  loss: GpuTensor;
  /** [n, k]: d loss_i / d logits (softmax - target without weights). Saved for the backward. */
  residual: GpuTensor;
  /** [1]: sum_i weight[label_i], present for a weighted 'mean'. Saved for the backward. */
  weightSum?: GpuTensor;
  /** The forward's reduction, which fixes the backward's upstream shape and normaliser. */
  reduction: Reduction;
}

function checkSmoothing(kernel: string, smoothing: number): void {
  if (!(Number.isFinite(smoothing) && smoothing >= 0 && smoothing < 1)) {
    throw new KernelArgumentError(kernel, 'labelSmoothing', 'a number in [0, 1)', String(smoothing));
  }
}

function checkReduction(kernel: string, reduction: string): Reduction {
  expectOneOf(kernel, 'reduction', reduction, reductions);
  return reduction;
}

/**
 * Loss of logits [n, k] against labels [n] (a u32 tensor). Labels >= k cannot be seen here (GPU
 * data): they make that sample's loss, and so any reduced loss, NaN. The Host variant checks them.
 * The caller owns every returned tensor (release `residual` and `weightSum` after the backward).
 */
export function softmaxCrossEntropy(gpu: Gpu, logits: GpuTensor, labels: GpuTensor, options: SoftmaxCrossEntropyOptions = {}): SoftmaxCrossEntropyResult {
  const name = 'softmaxCrossEntropy';
  expectRank(name, 'logits', logits, 2, '[n, k]');
  expectDType(name, 'logits', logits, 'f32');
  const [n, k] = [logits.shape[0]!, logits.shape[1]!];
  expectShape(name, 'labels', labels, [n], 'one class index per row of logits');
  expectDType(name, 'labels', labels, 'u32');
  if (options.weight) {
    expectShape(name, 'weight', options.weight, [k], 'one weight per class');
    expectDType(name, 'weight', options.weight, 'f32');
  }
  const smoothing = options.labelSmoothing ?? 0;
  checkSmoothing(name, smoothing);
  const reduction = checkReduction(name, options.reduction ?? 'mean');

  const losses = gpu.allocate([n]);
  const sampleWeights = gpu.allocate([n]);
  const residual = gpu.allocate([n, k]);
  gpu.dispatch(forwardKernel, {
    bindings: [logits, labels, options.weight ?? gpu.placeholder(), losses, sampleWeights, residual],
    uniforms: { n, k, smoothing, has_weight: options.weight ? 1 : 0 },
    workgroups: linearWorkgroups(gpu.limits, n, rowsPerWorkgroup, forwardKernel.name),
  });

  if (reduction === 'none') {
    gpu.release(sampleWeights);
    return { loss: losses, residual, reduction };
  }
  if (reduction === 'sum' || !options.weight) {
    const loss = sumRows(gpu, losses, 1, reduction === 'mean' ? 1 / n : 1);
    gpu.release(losses, sampleWeights);
    return { loss, residual, reduction };
  }
  const lossSum = sumAll(gpu, losses);
  const weightSum = sumAll(gpu, sampleWeights);
  const loss = gpu.allocate([1]);
  gpu.dispatch(meanKernel, { bindings: [lossSum, weightSum, loss], workgroups: [1] });
  gpu.release(losses, sampleWeights, lossSum);
  return { loss, residual, weightSum, reduction };
}

/**
 * d loss / d logits from the upstream gradient: a [1] tensor for the forward's 'mean' and 'sum',
 * [n] for 'none'. `saved` is the forward's result (its `loss` is not read).
 */
export function softmaxCrossEntropyBackward(
  gpu: Gpu,
  upstream: GpuTensor,
  saved: Pick<SoftmaxCrossEntropyResult, 'residual' | 'weightSum' | 'reduction'>,
): GpuTensor {
  const name = 'softmaxCrossEntropyBackward';
  const reduction = checkReduction(name, saved.reduction);
  expectRank(name, 'residual', saved.residual, 2, '[n, k]');
  expectDType(name, 'residual', saved.residual, 'f32');
  const [n, k] = [saved.residual.shape[0]!, saved.residual.shape[1]!];
  expectShape(name, 'upstream', upstream, reduction === 'none' ? [n] : [1], reduction === 'none' ? 'one per sample' : 'the scalar loss gradient');
  expectDType(name, 'upstream', upstream, 'f32');
  if (saved.weightSum) {
    expectShape(name, 'weightSum', saved.weightSum, [1]);
    expectDType(name, 'weightSum', saved.weightSum, 'f32');
  }
  const dx = gpu.allocate([n, k]);
  gpu.dispatch(backwardKernel, {
    bindings: [saved.residual, upstream, saved.weightSum ?? gpu.placeholder(), dx],
    uniforms: { n, k, reduction: reductionCodes[reduction], has_weight: saved.weightSum ? 1 : 0 },
    workgroups: linearWorkgroups(gpu.limits, groupsFor(n * k, elementsPerInvocation), workgroupSize, backwardKernel.name),
  });
  return dx;
}

/** Row-wise softmax of x [n, k] (class probabilities for prediction). */
export function softmax(gpu: Gpu, x: GpuTensor): GpuTensor {
  expectRank('softmax', 'x', x, 2, '[n, k]');
  expectDType('softmax', 'x', x, 'f32');
  const [n, k] = [x.shape[0]!, x.shape[1]!];
  const p = gpu.allocate([n, k]);
  gpu.dispatch(softmaxKernel, { bindings: [x, p], uniforms: { n, k }, workgroups: linearWorkgroups(gpu.limits, n, rowsPerWorkgroup, softmaxKernel.name) });
  return p;
}

// ---- host level ---------------------------------------------------------------------------------

export interface SoftmaxCrossEntropyHostOptions {
  labelSmoothing?: number;
  weight?: HostTensor;
  reduction?: Reduction;
}

/** Labels are host data here, so each is checked: an integer class index in [0, k). */
function uploadLabels(gpu: Gpu, kernel: string, labels: ArrayLike<number>, logits: HostTensor): GpuTensor {
  if (logits.shape.length !== 2) expectRank(kernel, 'logits', logits, 2, '[n, k]');
  const [n, k] = [logits.shape[0]!, logits.shape[1]!];
  if (labels.length !== n) throw new KernelArgumentError(kernel, 'labels', `${n} labels (one per row of logits)`, `${labels.length}`);
  for (let i = 0; i < n; i++) {
    const label = labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= k) {
      throw new KernelArgumentError(kernel, `labels[${i}]`, `an integer class index in [0, ${k})`, String(label));
    }
  }
  return gpu.upload(Uint32Array.from(labels), [n]);
}

export async function softmaxCrossEntropyHost(
  gpu: Gpu,
  logits: HostTensor,
  labels: ArrayLike<number>,
  options: SoftmaxCrossEntropyHostOptions = {},
): Promise<{ loss: HostTensor; residual: HostTensor }> {
  const labelTensor = uploadLabels(gpu, 'softmaxCrossEntropy', labels, logits);
  try {
    return await runOnHost(gpu, { logits, weight: options.weight }, (t) => {
      const { loss, residual, weightSum } = softmaxCrossEntropy(gpu, t.logits, labelTensor, { ...options, weight: t.weight });
      gpu.release(weightSum);
      return { loss, residual };
    });
  } finally {
    gpu.release(labelTensor);
  }
}

/** Forward then backward: d loss / d logits for the given upstream gradient ([1], or [n] for 'none'). */
export async function softmaxCrossEntropyBackwardHost(
  gpu: Gpu,
  upstream: HostTensor,
  logits: HostTensor,
  labels: ArrayLike<number>,
  options: SoftmaxCrossEntropyHostOptions = {},
): Promise<HostTensor> {
  const labelTensor = uploadLabels(gpu, 'softmaxCrossEntropyBackward', labels, logits);
  try {
    return await runOnHost(gpu, { upstream, logits, weight: options.weight }, (t) => {
      const saved = softmaxCrossEntropy(gpu, t.logits, labelTensor, { ...options, weight: t.weight });
      const dx = softmaxCrossEntropyBackward(gpu, t.upstream, saved);
      gpu.release(saved.loss, saved.residual, saved.weightSum);
      return dx;
    });
  } finally {
    gpu.release(labelTensor);
  }
}

export function softmaxHost(gpu: Gpu, x: HostTensor): Promise<HostTensor> {
  return runOnHost(gpu, { x }, (t) => softmax(gpu, t.x));
}
