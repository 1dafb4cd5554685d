/**
 * Losses with logits: softmax cross-entropy (F.cross_entropy with class weights and label
 * smoothing) and sigmoid binary cross-entropy (F.binary_cross_entropy_with_logits with pos_weight).
 * The gradient flows to the logits only: labels, targets and weights are data, and passing one that
 * requires grad is an error rather than a gradient silently left out. Targets and weights are still
 * inputs of the graph, so an intermediate passed as one is freed with the graph like any other.
 */
import {
  sigmoidBinaryCrossEntropy as bceKernel,
  sigmoidBinaryCrossEntropyBackward,
  softmaxCrossEntropy as sceKernel,
  softmaxCrossEntropyBackward,
  GpuTensor,
  type Reduction,
} from '@graft/kernels';
import { AutogradError } from '../errors.js';
import { record } from '../tape.js';
import type { Tensor } from '../tensor.js';

export type { Reduction } from '@graft/kernels';

function expectNoGrad(op: string, what: string, t: Tensor | undefined): void {
  if (t?.requiresGrad) {
    throw new AutogradError(`${op}: ${what} (${t.describe()}) requires grad, but ${op} differentiates with respect to the logits only`);
  }
}

export interface SoftmaxCrossEntropyOpOptions {
  /** eps in [0, 1): target = (1 - eps) · onehot + eps / k. Default 0. */
  labelSmoothing?: number;
  /** [k] per-class weights (PyTorch's `weight`); data, not trained. */
  classWeights?: Tensor;
  /** Default 'mean' (weighted: divides by the sum of the samples' class weights, as PyTorch). */
  reduction?: Reduction;
}

/**
 * Loss of logits [n, k] against class indices [n]: a u32 GpuTensor (not checked: labels >= k give
 * NaN) or a Uint32Array (checked on the host, then uploaded for this call). Returns [1] for 'mean'
 * and 'sum', [n] for 'none'.
 */
export function softmaxCrossEntropy(logits: Tensor, labels: GpuTensor | Uint32Array, options: SoftmaxCrossEntropyOpOptions = {}): Tensor {
  const op = 'softmaxCrossEntropy';
  const gpu = logits.gpu;
  const { classWeights, labelSmoothing, reduction = 'mean' } = options;
  expectNoGrad(op, 'classWeights', classWeights);
  let labelTensor: GpuTensor;
  if (labels instanceof GpuTensor) {
    labelTensor = labels;
  } else {
    if (logits.shape.length !== 2) throw new AutogradError(`${op}: logits must be [n, k], got ${logits.describe()} of rank ${logits.shape.length}`);
    const [n, k] = logits.shape;
    if (labels.length !== n) throw new AutogradError(`${op}: ${labels.length} labels for ${n} rows of logits`);
    const bad = labels.findIndex((label) => label >= k!);
    if (bad >= 0) throw new AutogradError(`${op}: labels[${bad}] = ${labels[bad]} is not a class index in [0, ${k})`);
    labelTensor = gpu.upload(labels, [n!], 'u32');
  }
  let result;
  try {
    result = sceKernel(gpu, logits.data, labelTensor, { labelSmoothing, weight: classWeights?.data, reduction });
  } finally {
    // The labels are read by the forward only (the residual carries what the backward needs).
    if (labelTensor !== labels) gpu.release(labelTensor);
  }
  const { loss, residual, weightSum } = result;
  const saved = weightSum ? [residual, weightSum] : [residual];
  const inputs = classWeights ? [logits, classWeights] : [logits];
  return record(gpu, op, inputs, loss, (dy) => [softmaxCrossEntropyBackward(gpu, dy, { residual, weightSum, reduction })], saved);
}

export interface SigmoidBinaryCrossEntropyOpOptions {
  /** Weight of the positive term per class: [classes] (the last dim; [1] for rank-1 logits). Data, not trained. */
  posWeight?: Tensor;
  /** Default 'mean' (over every element). */
  reduction?: Reduction;
}

/** Loss of logits [n] or [n, classes] against targets in [0, 1] of the same shape: [1] for 'mean'/'sum', logits' shape for 'none'. */
export function sigmoidBinaryCrossEntropy(logits: Tensor, targets: Tensor, options: SigmoidBinaryCrossEntropyOpOptions = {}): Tensor {
  const op = 'sigmoidBinaryCrossEntropy';
  const gpu = logits.gpu;
  const { posWeight, reduction = 'mean' } = options;
  expectNoGrad(op, 'targets', targets);
  expectNoGrad(op, 'posWeight', posWeight);
  const loss = bceKernel(gpu, logits.data, targets.data, { posWeight: posWeight?.data, reduction });
  const inputs = posWeight ? [logits, targets, posWeight] : [logits, targets];
  // Nothing saved: the backward recomputes the sigmoid from the logits, which the graph keeps.
  return record(gpu, op, inputs, loss, (dy) => [sigmoidBinaryCrossEntropyBackward(gpu, dy, logits.data, targets.data, { posWeight: posWeight?.data, reduction })]);
}
