/**
 * Classification metrics computed on the GPU from logits [n, k] and class labels [n]: accuracy,
 * top-k accuracy and the confusion matrix. Nothing is read back: a training loop can accumulate
 * them per batch and read once per epoch. They are not differentiable, so the results are leaves
 * owned by the caller (no graph is recorded, whether or not gradients are enabled).
 *
 * Ties (see topkCorrect.wgsl / confusionCounts.wgsl): top-k counts the label as inside when its
 * logit is >= the k-th largest of its row; the confusion matrix predicts the first maximum (like
 * torch.argmax). So with tied maxima, accuracy can exceed trace(confusion) / n.
 */
import { confusionCounts, GpuTensor, meanAll, topkCorrect, type Gpu } from '@graft/kernels';
import { fromGpu } from './create.js';
import { AutogradError } from './errors.js';
import type { Tensor } from './tensor.js';

/**
 * Labels as the kernels take them: a u32 GpuTensor is used as is (not checked: it is GPU data), a
 * Uint32Array is checked on the host and uploaded; `owned` says whether the caller must release it.
 */
function labelTensor(op: string, logits: Tensor, labels: GpuTensor | Uint32Array): { labels: GpuTensor; owned: boolean } {
  if (labels instanceof GpuTensor) return { labels, owned: false };
  if (logits.shape.length !== 2) throw new AutogradError(`${op}: logits must be [n, k], got ${logits.describe()} of rank ${logits.shape.length}`);
  const [n, k] = logits.shape as [number, number];
  if (labels.length !== n) throw new AutogradError(`${op}: ${labels.length} labels for ${n} rows of logits`);
  const bad = labels.findIndex((label) => label >= k);
  if (bad >= 0) throw new AutogradError(`${op}: labels[${bad}] = ${labels[bad]} is not a class index in [0, ${k})`);
  return { labels: logits.gpu.upload(labels, [n], 'u32'), owned: true };
}

/** Fraction of rows whose label is among the k highest logits: a [1] tensor on the GPU. */
export function topKAccuracy(logits: Tensor, labels: GpuTensor | Uint32Array, k: number): Tensor {
  const gpu = logits.gpu;
  const given = labelTensor('topKAccuracy', logits, labels);
  let correct: GpuTensor | undefined;
  try {
    correct = topkCorrect(gpu, logits.data, given.labels, k);
    return fromGpu(gpu, meanAll(gpu, correct), { name: `top-${k} accuracy` });
  } finally {
    // The queue runs in order: the dispatches above still read these.
    gpu.release(correct);
    if (given.owned) gpu.release(given.labels);
  }
}

/** Fraction of rows whose label has the highest logit (a tie with the maximum counts as correct): [1] on the GPU. */
export function accuracy(logits: Tensor, labels: GpuTensor | Uint32Array): Tensor {
  return topKAccuracy(logits, labels, 1);
}

/**
 * counts[y, p]: rows with label y whose argmax is p, a u32 GpuTensor [classes, classes] the caller
 * owns (release it with gpu.release). `classes` must equal the logits' k: it is asked for so that a
 * call site states the matrix size it expects.
 */
export function confusionMatrix(logits: Tensor, labels: GpuTensor | Uint32Array, classes: number): GpuTensor {
  const op = 'confusionMatrix';
  if (logits.shape.length !== 2 || logits.shape[1] !== classes) {
    throw new AutogradError(`${op}: ${classes} classes, but logits ${logits.describe()} have shape [${logits.shape.join(', ')}] (expected [n, ${classes}])`);
  }
  const given = labelTensor(op, logits, labels);
  try {
    return confusionCounts(logits.gpu, logits.data, given.labels);
  } finally {
    if (given.owned) logits.gpu.release(given.labels);
  }
}

/** Reads a confusion matrix back as rows (row = true label, column = prediction). Does not release it. */
export async function readConfusionMatrix(gpu: Gpu, counts: GpuTensor): Promise<number[][]> {
  if (counts.dtype !== 'u32' || counts.shape.length !== 2 || counts.shape[0] !== counts.shape[1]) {
    throw new AutogradError(`readConfusionMatrix: expected a u32 [k, k] tensor, got ${counts.dtype} [${counts.shape.join(', ')}]`);
  }
  const k = counts.shape[0]!;
  const data = await gpu.readUint32(counts);
  return Array.from({ length: k }, (_, y) => Array.from(data.subarray(y * k, (y + 1) * k)));
}
