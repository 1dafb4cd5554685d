/**
 * Loss and dropout cases: softmax cross-entropy at ImageNet's 64 x 1000 and a toy 8 x 6 classifier,
 * binary cross-entropy on a 64 x 1 logit column, dropout on MobileNetV2's 8 x 1280 head features.
 *
 * tfjs sides: tf.losses.softmaxCrossEntropy(onehot, logits) and tf.losses.sigmoidCrossEntropy (both
 * mean over the batch, as graft's default 'mean'); tf.dropout. Backward: tf.grads cannot run here
 * (tfjs-core's Node bundle registers no gradient functions), so the tfjs side is the composition its
 * autograd would run from what the forward saved, like graft's backward does:
 *   cross-entropy dlogits = (probs - onehot) * g / n   (probs saved by the forward; graft saves the
 *     residual probs - onehot and only scales it, so graft does the subtraction in its forward)
 *   sigmoid cross-entropy dx = (sigmoid(x) - t) * g / n
 *   dropout dx = dy * mask / (1 - p)                   (graft regenerates the mask from its seed;
 *     tfjs's mask is stored from its forward)
 */
import {
  dropout,
  dropoutBackward,
  sigmoidBinaryCrossEntropy,
  sigmoidBinaryCrossEntropyBackward,
  softmaxCrossEntropy,
  softmaxCrossEntropyBackward,
  type Gpu,
} from '@graft/kernels';
import type { KernelBenchCase, Tf } from '../case.js';
import { uniformData } from '../data.js';

const f32 = 4;

function labelsFor(n: number, k: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => (i * 7919) % k);
}

function oneHot(n: number, k: number): Float32Array {
  const out = new Float32Array(n * k);
  labelsFor(n, k).forEach((label, i) => (out[i * k + label] = 1));
  return out;
}

function crossEntropy(n: number, k: number): KernelBenchCase[] {
  const label = `softmax cross-entropy ${n}x${k}`;
  const elements = n * k;
  const forward: KernelBenchCase = {
    kernel: 'softmaxCrossEntropy',
    label,
    direction: 'forward',
    flops: 8 * elements, // max, subtract, 2 exp, sum, weighted gap, scale, residual (exp counted as 1)
    bytes: f32 * (2 * elements + 2 * n), // logits read, residual written, labels read, losses written
    // The mean loss corresponds; graft's residual (saved for backward) has no tfjs output.
    checkAgainstPeer: { pairs: [[0, 0]] },
    graft(gpu: Gpu) {
      const logits = gpu.upload(uniformData(1, elements), [n, k]);
      const labels = gpu.upload(labelsFor(n, k), [n]);
      return {
        run: () => {
          const { loss, residual } = softmaxCrossEntropy(gpu, logits, labels);
          return [loss, residual];
        },
        dispose: () => gpu.release(logits, labels),
      };
    },
    tfjs(tf: Tf) {
      const logits = tf.tensor2d(uniformData(1, elements), [n, k]);
      const onehot = tf.tensor2d(oneHot(n, k), [n, k]);
      return { run: () => tf.tidy(() => tf.losses.softmaxCrossEntropy(onehot, logits)), dispose: () => tf.dispose([logits, onehot]) };
    },
  };
  const backward: KernelBenchCase = {
    kernel: 'softmaxCrossEntropy',
    label: `${label} dlogits`,
    direction: 'backward',
    flops: elements,
    bytes: f32 * 2 * elements,
    graft(gpu: Gpu) {
      const logits = gpu.upload(uniformData(1, elements), [n, k]);
      const labels = gpu.upload(labelsFor(n, k), [n]);
      const saved = softmaxCrossEntropy(gpu, logits, labels);
      const g = gpu.upload(Float32Array.of(1), [1]);
      return {
        run: () => softmaxCrossEntropyBackward(gpu, g, saved),
        dispose: () => gpu.release(logits, labels, saved.loss, saved.residual, g),
      };
    },
    tfjs(tf: Tf) {
      const probs = tf.tidy(() => tf.softmax(tf.tensor2d(uniformData(1, elements), [n, k])));
      const onehot = tf.tensor2d(oneHot(n, k), [n, k]);
      const scale = tf.scalar(1 / n);
      return { run: () => tf.tidy(() => tf.mul(tf.sub(probs, onehot), scale)), dispose: () => tf.dispose([probs, onehot, scale]) };
    },
  };
  return [forward, backward];
}

function binaryCrossEntropy(n: number): KernelBenchCase[] {
  const label = `sigmoid cross-entropy ${n}x1`;
  const shape = [n, 1] as const;
  const targets = () => uniformData(2, n).map((v) => (v > 0 ? 1 : 0));
  const forward: KernelBenchCase = {
    kernel: 'sigmoidBinaryCrossEntropy',
    label,
    direction: 'forward',
    flops: 8 * n,
    bytes: f32 * 3 * n,
    graft(gpu: Gpu) {
      const x = gpu.upload(uniformData(1, n), shape);
      const t = gpu.upload(targets(), shape);
      return { run: () => sigmoidBinaryCrossEntropy(gpu, x, t), dispose: () => gpu.release(x, t) };
    },
    tfjs(tf: Tf) {
      const x = tf.tensor2d(uniformData(1, n), [...shape]);
      const t = tf.tensor2d(targets(), [...shape]);
      return { run: () => tf.tidy(() => tf.losses.sigmoidCrossEntropy(t, x)), dispose: () => tf.dispose([x, t]) };
    },
  };
  const backward: KernelBenchCase = {
    kernel: 'sigmoidBinaryCrossEntropy',
    label: `${label} dlogits`,
    direction: 'backward',
    flops: 6 * n,
    bytes: f32 * 3 * n,
    graft(gpu: Gpu) {
      const x = gpu.upload(uniformData(1, n), shape);
      const t = gpu.upload(targets(), shape);
      const g = gpu.upload(Float32Array.of(1), [1]);
      return { run: () => sigmoidBinaryCrossEntropyBackward(gpu, g, x, t), dispose: () => gpu.release(x, t, g) };
    },
    tfjs(tf: Tf) {
      const x = tf.tensor2d(uniformData(1, n), [...shape]);
      const t = tf.tensor2d(targets(), [...shape]);
      const scale = tf.scalar(1 / n);
      return { run: () => tf.tidy(() => tf.mul(tf.sub(tf.sigmoid(x), t), scale)), dispose: () => tf.dispose([x, t, scale]) };
    },
  };
  return [forward, backward];
}

function dropoutCases(n: number, c: number, p: number): KernelBenchCase[] {
  const label = `dropout p=${p} ${n}x${c}`;
  const elements = n * c;
  const forward: KernelBenchCase = {
    kernel: 'dropout',
    label,
    direction: 'forward',
    flops: elements, // one multiply per element (the hash is integer work)
    bytes: f32 * 2 * elements,
    checkAgainstPeer: { skip: "random masks: graft's seeded hash and tfjs's RNG keep different elements" },
    graft(gpu: Gpu) {
      const x = gpu.upload(uniformData(1, elements), [n, c]);
      let seed = 0;
      return { run: () => dropout(gpu, x, p, seed++), dispose: () => gpu.release(x) };
    },
    tfjs(tf: Tf) {
      const x = tf.tensor2d(uniformData(1, elements), [n, c]);
      return { run: () => tf.tidy(() => tf.dropout(x, p)), dispose: () => tf.dispose(x) };
    },
  };
  const backward: KernelBenchCase = {
    kernel: 'dropout',
    label: `${label} dx`,
    direction: 'backward',
    flops: elements,
    bytes: f32 * 2 * elements,
    checkAgainstPeer: { skip: "random masks: graft's seeded hash and tfjs's RNG keep different elements" },
    graft(gpu: Gpu) {
      const dy = gpu.upload(uniformData(2, elements), [n, c]);
      return { run: () => dropoutBackward(gpu, dy, p, 7), dispose: () => gpu.release(dy) };
    },
    tfjs(tf: Tf) {
      const dy = tf.tensor2d(uniformData(2, elements), [n, c]);
      const mask = tf.tidy(() => tf.div(tf.step(tf.sub(tf.randomUniform([n, c]), p)), 1 - p));
      return { run: () => tf.tidy(() => tf.mul(dy, mask)), dispose: () => tf.dispose([dy, mask]) };
    },
  };
  return [forward, backward];
}

export const cases: KernelBenchCase[] = [...crossEntropy(64, 1000), ...crossEntropy(8, 6), ...binaryCrossEntropy(64), ...dropoutCases(8, 1280, 0.2)];
