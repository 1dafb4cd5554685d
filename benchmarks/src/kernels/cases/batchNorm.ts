/**
 * batchNorm cases at batch 8: ResNet/MobileNet-sized activations (56x56x64, 28x28x128, 7x7x1280).
 *   training forward: batch statistics (two passes) + running-stat update + normalize;
 *     tfjs: tf.moments over [0, 1, 2] then tf.batchNorm (tfjs keeps no running stats: that [C]-sized
 *     update is graft-only work here).
 *   inference forward: running statistics as one scale/shift pass; tfjs: tf.batchNorm.
 *   backward (training mode, dx + dgamma + dbeta from dy, given the saved mean and invstd).
 *     tfjs has no batch-norm backward kernel, and tf.grads cannot run here: tfjs-core's Node bundle
 *     registers no gradient functions (the @tensorflow/tfjs union package does, and the benchmarks
 *     depend on tfjs-core only). So the tfjs side is the op composition its autograd would run:
 *     xhat = (x - mean) * invstd, dbeta = sum(dy), dgamma = sum(dy * xhat),
 *     dx = gamma * invstd / N * (N * dy - dbeta - xhat * dgamma).
 * No fused activation, so both sides do the same math.
 */
import { batchNormBackward, batchNormInference, batchNormTraining, type Gpu } from '@graft/kernels';
import type { KernelBenchCase, Tf } from '../case.js';
import { uniformData } from '../data.js';

const f32 = 4;
const batch = 8;
const eps = 1e-5;

interface Layer {
  size: number;
  c: number;
}

function label({ size, c }: Layer): string {
  return `batchNorm ${size}x${size}x${c} b${batch}`;
}

function graftTensors(gpu: Gpu, { size, c }: Layer) {
  const n = batch * size * size * c;
  return {
    x: gpu.upload(uniformData(1, n), [batch, size, size, c]),
    dy: gpu.upload(uniformData(2, n), [batch, size, size, c]),
    gamma: gpu.upload(uniformData(3, c), [c]),
    beta: gpu.upload(uniformData(4, c), [c]),
    runningMean: gpu.upload(uniformData(5, c), [c]),
    runningVar: gpu.upload(uniformData(6, c).map((v) => 1 + 0.5 * v), [c]),
  };
}

function tfTensors(tf: Tf, { size, c }: Layer) {
  const n = batch * size * size * c;
  return {
    x: tf.tensor4d(uniformData(1, n), [batch, size, size, c]),
    dy: tf.tensor4d(uniformData(2, n), [batch, size, size, c]),
    gamma: tf.tensor1d(uniformData(3, c)),
    beta: tf.tensor1d(uniformData(4, c)),
    runningMean: tf.tensor1d(uniformData(5, c)),
    runningVar: tf.tensor1d(uniformData(6, c).map((v) => 1 + 0.5 * v)),
  };
}

function trainingForward(layer: Layer): KernelBenchCase {
  const size = batch * layer.size * layer.size * layer.c;
  return {
    kernel: 'batchNorm',
    label: `${label(layer)} training (stats + normalize)`,
    direction: 'forward',
    // mean: 1 add; squared deviations: sub + fma; normalize: fma.
    flops: 5 * size,
    bytes: f32 * (2 * size + 6 * layer.c),
    // y and mean correspond; graft's third output is invstd, tfjs's is the variance.
    checkAgainstPeer: { pairs: [[0, 0], [1, 1]] },
    graft(gpu: Gpu) {
      const t = graftTensors(gpu, layer);
      return {
        run: () => {
          const { y, mean, invstd } = batchNormTraining(gpu, t.x, t, { eps });
          return [y, mean, invstd];
        },
        dispose: () => gpu.release(...Object.values(t)),
      };
    },
    tfjs(tf: Tf) {
      const t = tfTensors(tf, layer);
      return {
        run: () => {
          const { mean, variance } = tf.moments(t.x, [0, 1, 2]);
          return [tf.batchNorm(t.x, mean, variance, t.beta, t.gamma, eps), mean, variance];
        },
        dispose: () => tf.dispose(Object.values(t)),
      };
    },
  };
}

function inferenceForward(layer: Layer): KernelBenchCase {
  const size = batch * layer.size * layer.size * layer.c;
  return {
    kernel: 'batchNorm',
    label: `${label(layer)} inference`,
    direction: 'forward',
    flops: 2 * size,
    bytes: f32 * (2 * size + 4 * layer.c),
    // y corresponds; graft also returns the invstd it normalized with, which tfjs does not expose.
    checkAgainstPeer: { pairs: [[0, 0]] },
    graft(gpu: Gpu) {
      const t = graftTensors(gpu, layer);
      return {
        run: () => {
          const { y, invstd } = batchNormInference(gpu, t.x, t, { eps });
          return [y, invstd];
        },
        dispose: () => gpu.release(...Object.values(t)),
      };
    },
    tfjs(tf: Tf) {
      const t = tfTensors(tf, layer);
      return {
        run: () => tf.batchNorm(t.x, t.runningMean, t.runningVar, t.beta, t.gamma, eps),
        dispose: () => tf.dispose(Object.values(t)),
      };
    },
  };
}

function backward(layer: Layer): KernelBenchCase {
  const size = batch * layer.size * layer.size * layer.c;
  return {
    kernel: 'batchNorm',
    label: `${label(layer)} training dx+dgamma+dbeta`,
    direction: 'backward',
    // reduce: add, sub, fma; dx: sub, mul, fma, sub, mul.
    flops: 8 * size,
    bytes: f32 * (3 * size + 5 * layer.c),
    graft(gpu: Gpu) {
      const t = graftTensors(gpu, layer);
      // The statistics the forward pass would have saved.
      const saved = batchNormTraining(gpu, t.x, { gamma: t.gamma, beta: t.beta }, { eps });
      gpu.release(saved.y);
      return {
        run: () => {
          const g = batchNormBackward(gpu, t.dy, t.x, { mean: saved.mean, invstd: saved.invstd, gamma: t.gamma }, true);
          return [g.dx!, g.dgamma!, g.dbeta!];
        },
        dispose: () => gpu.release(...Object.values(t), saved.mean, saved.invstd),
      };
    },
    tfjs(tf: Tf) {
      const t = tfTensors(tf, layer);
      const axes = [0, 1, 2];
      const count = batch * layer.size * layer.size;
      const { mean, variance } = tf.moments(t.x, axes);
      const invstd = tf.rsqrt(tf.add(variance, eps));
      return {
        run: () =>
          tf.tidy(() => {
            const xhat = tf.mul(tf.sub(t.x, mean), invstd);
            const dbeta = tf.sum(t.dy, axes);
            const dgamma = tf.sum(tf.mul(t.dy, xhat), axes);
            const centered = tf.sub(tf.sub(tf.mul(t.dy, count), dbeta), tf.mul(xhat, dgamma));
            const dx = tf.mul(centered, tf.mul(t.gamma, tf.div(invstd, count)));
            return [dx, dgamma, dbeta];
          }),
        dispose: () => tf.dispose([...Object.values(t), mean, variance, invstd]),
      };
    },
  };
}

const layers: Layer[] = [
  { size: 56, c: 64 },
  { size: 28, c: 128 },
  { size: 7, c: 1280 },
];

export const cases: KernelBenchCase[] = layers.flatMap((layer) => [trainingForward(layer), inferenceForward(layer), backward(layer)]);
