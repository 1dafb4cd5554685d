/**
 * Classification metrics on the GPU: top-k correctness per sample (its mean is top-k accuracy) and
 * the confusion matrix of argmax predictions. See topkCorrect.wgsl, confusionCounts.wgsl and
 * docs/kernels/classification.md. Neither has a backward: they are metrics, not losses.
 */
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { runOnHost } from '../runtime/host.js';
import { defineKernel } from '../runtime/kernel.js';
import type { GpuTensor, HostTensor } from '../runtime/tensor.js';
import { expectDType, expectPositiveInt, expectRank, expectShape } from '../runtime/validate.js';
import { linearWorkgroups } from '../runtime/workgroups.js';

const topkKernel = defineKernel('topkCorrect', import.meta.url);
const confusionKernel = defineKernel('confusionCounts', import.meta.url);

/** Must match ROWS_PER_WORKGROUP in topkCorrect.wgsl and confusionCounts.wgsl (one row per invocation). */
const rowsPerWorkgroup = 16;

/** Checks logits [n, k] f32 and labels [n] u32; returns n and k. */
function checkInputs(kernel: string, logits: GpuTensor, labels: GpuTensor): { n: number; k: number } {
  expectRank(kernel, 'logits', logits, 2, '[n, k]');
  expectDType(kernel, 'logits', logits, 'f32');
  const [n, k] = [logits.shape[0]!, logits.shape[1]!];
  expectShape(kernel, 'labels', labels, [n], 'one class index per row of logits');
  expectDType(kernel, 'labels', labels, 'u32');
  return { n, k };
}

/**
 * correct[i] = 1 when labels[i] is among the `topK` highest logits of row i, else 0: an f32 [n]
 * tensor, so its mean (meanAll) is top-k accuracy. Ties count the label as inside when its logit is
 * >= the topK-th largest. Labels >= k cannot be seen here (GPU data): they give NaN for that row.
 */
export function topkCorrect(gpu: Gpu, logits: GpuTensor, labels: GpuTensor, topK = 1): GpuTensor {
  const { n, k } = checkInputs('topkCorrect', logits, labels);
  expectPositiveInt('topkCorrect', 'topK', topK);
  if (topK > k) throw new KernelArgumentError('topkCorrect', 'topK', `at most k = ${k} (the number of classes)`, String(topK));
  const correct = gpu.allocate([n]);
  gpu.dispatch(topkKernel, {
    bindings: [logits, labels, correct],
    uniforms: { n, k, top_k: topK },
    workgroups: linearWorkgroups(gpu.limits, n, rowsPerWorkgroup, topkKernel.name),
  });
  return correct;
}

/**
 * counts[y, p] = number of rows with label y whose argmax (first maximum on ties) is p: a u32 [k, k]
 * tensor. Rows with a label >= k (unchecked GPU data) are not counted.
 */
export function confusionCounts(gpu: Gpu, logits: GpuTensor, labels: GpuTensor): GpuTensor {
  const { n, k } = checkInputs('confusionCounts', logits, labels);
  const counts = gpu.allocate([k, k], 'u32');
  // The kernel only adds: the counts start from zero, cleared in the same command stream (in order
  // before the dispatch, with no host round trip).
  gpu.commandEncoder().clearBuffer(counts.buffer, counts.byteOffset, counts.byteLength);
  gpu.dispatch(confusionKernel, {
    bindings: [logits, labels, counts],
    uniforms: { n, k },
    workgroups: linearWorkgroups(gpu.limits, n, rowsPerWorkgroup, confusionKernel.name),
  });
  return counts;
}

// ---- host level ---------------------------------------------------------------------------------

/** Labels are host data here, so each is checked: an integer class index in [0, k). */
function uploadLabels(gpu: Gpu, kernel: string, labels: ArrayLike<number>, logits: HostTensor): GpuTensor {
  expectRank(kernel, 'logits', logits, 2, '[n, k]');
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

/** Per-row 0/1 top-k correctness of host logits [n, k] against host labels. */
export async function topkCorrectHost(gpu: Gpu, logits: HostTensor, labels: ArrayLike<number>, topK = 1): Promise<HostTensor> {
  const labelTensor = uploadLabels(gpu, 'topkCorrect', labels, logits);
  try {
    return await runOnHost(gpu, { logits }, (t) => topkCorrect(gpu, t.logits, labelTensor, topK));
  } finally {
    gpu.release(labelTensor);
  }
}

/** The confusion matrix of host logits [n, k] against host labels: u32 counts [k, k], row = label. */
export async function confusionCountsHost(
  gpu: Gpu,
  logits: HostTensor,
  labels: ArrayLike<number>,
): Promise<{ data: Uint32Array; shape: readonly number[] }> {
  const labelTensor = uploadLabels(gpu, 'confusionCounts', labels, logits);
  // runOnHost reads f32 outputs only: the u32 counts are read here with readUint32.
  const x = gpu.upload(logits.data, logits.shape);
  let counts: GpuTensor | undefined;
  try {
    counts = confusionCounts(gpu, x, labelTensor);
    return { data: await gpu.readUint32(counts), shape: counts.shape };
  } finally {
    gpu.release(labelTensor, x, counts);
  }
}
