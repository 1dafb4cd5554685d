/**
 * Classification metric cases at an ImageNet-sized eval batch (1024 x 1000) and a toy 6-class head:
 * top-k correctness per row (top-1 and top-5) and the argmax confusion matrix.
 *
 * tfjs sides (tf.inTopKAsync is async and runs on the CPU, so it is not the peer):
 *   top-k: any(equal(topk(logits, k).indices, labels[:, None]), axis 1) as f32. On distinct values
 *     this is graft's rule; graft counts a tie at the boundary as inside, tf.topk picks among tied
 *     values by index, and the data here has no ties at a boundary that matters (checked by the match).
 *   confusion: tf.math.confusionMatrix(labels, argMax(logits, 1), k) (int32 [k, k], row = label,
 *     the same orientation as graft's u32 counts); its implementation is a one-hot matmul.
 * Integer and 0/1 outputs must match exactly; the default tolerance is far below 1.
 */
import { confusionCounts, topkCorrect, type Gpu } from '@graft/kernels';
import type * as tfcore from '@tensorflow/tfjs-core';
import type { KernelBenchCase, Tf } from '../case.js';
import { uniformData } from '../data.js';

const word = 4;

function labelsFor(n: number, k: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => (i * 7919) % k);
}

function topkCase(n: number, k: number, topK: number): KernelBenchCase {
  const elements = n * k;
  return {
    kernel: 'topkCorrect',
    label: `top-${topK} correct ${n}x${k}`,
    direction: 'forward',
    flops: elements, // one comparison per logit
    bytes: word * (elements + 2 * n), // logits and labels read, one flag per row written
    graft(gpu: Gpu) {
      const logits = gpu.upload(uniformData(11, elements), [n, k]);
      const labels = gpu.upload(labelsFor(n, k), [n]);
      return { run: () => topkCorrect(gpu, logits, labels, topK), dispose: () => gpu.release(logits, labels) };
    },
    tfjs(tf: Tf) {
      const logits = tf.tensor2d(uniformData(11, elements), [n, k]);
      const labels = tf.tensor2d(Int32Array.from(labelsFor(n, k)), [n, 1], 'int32');
      return {
        run: () => tf.tidy(() => tf.cast(tf.any(tf.equal(tf.topk(logits, topK).indices, labels), 1), 'float32')),
        dispose: () => tf.dispose([logits, labels]),
      };
    },
  };
}

function confusionCase(n: number, k: number): KernelBenchCase {
  const elements = n * k;
  return {
    kernel: 'confusionCounts',
    label: `confusion counts ${n}x${k}`,
    direction: 'forward',
    flops: elements, // one comparison per logit (the n atomic adds are negligible)
    bytes: word * (elements + n + k * k), // logits and labels read, the [k, k] counts cleared
    graft(gpu: Gpu) {
      const logits = gpu.upload(uniformData(12, elements), [n, k]);
      const labels = gpu.upload(labelsFor(n, k), [n]);
      return { run: () => confusionCounts(gpu, logits, labels), dispose: () => gpu.release(logits, labels) };
    },
    tfjs(tf: Tf) {
      const logits = tf.tensor2d(uniformData(12, elements), [n, k]);
      const labels = tf.tensor1d(Int32Array.from(labelsFor(n, k)), 'int32');
      return {
        run: () => tf.tidy(() => tf.math.confusionMatrix(labels, tf.argMax<tfcore.Tensor1D>(logits, 1), k)),
        dispose: () => tf.dispose([logits, labels]),
      };
    },
  };
}

export const cases: KernelBenchCase[] = [
  topkCase(1024, 1000, 1),
  topkCase(1024, 1000, 5),
  confusionCase(1024, 1000),
  topkCase(1024, 6, 1),
  topkCase(1024, 6, 3),
  confusionCase(1024, 6),
];
