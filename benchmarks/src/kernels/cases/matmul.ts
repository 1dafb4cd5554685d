/** matmul cases: square GEMMs, forward (C = A.B) and backward (dA = dC.B^T, dB = A^T.dC). */
import { matmul, matmulBackward, type Gpu } from '@graft/kernels';
import type { KernelBenchCase, Tf } from '../case.js';
import { uniformData } from '../data.js';

const f32 = 4;

function forward(m: number, n: number, k: number): KernelBenchCase {
  return {
    kernel: 'matmul',
    label: `matmul ${m}x${n}x${k}`,
    direction: 'forward',
    flops: 2 * m * n * k,
    bytes: f32 * (m * k + k * n + m * n),
    graft(gpu: Gpu) {
      const a = gpu.upload(uniformData(1, m * k), [m, k]);
      const b = gpu.upload(uniformData(2, k * n), [k, n]);
      const c = gpu.allocate([m, n]);
      return {
        run: () => matmul(gpu, a, b, {}, c),
        dispose: () => gpu.release(a, b, c),
      };
    },
    tfjs(tf: Tf) {
      const a = tf.tensor2d(uniformData(1, m * k), [m, k]);
      const b = tf.tensor2d(uniformData(2, k * n), [k, n]);
      return {
        run: () => tf.matMul(a, b),
        dispose: () => tf.dispose([a, b]),
      };
    },
  };
}

/** Both operand gradients (no bias): what a dense layer's backward pass costs. */
function backward(m: number, n: number, k: number): KernelBenchCase {
  return {
    kernel: 'matmul',
    label: `matmul ${m}x${n}x${k} dA+dB`,
    direction: 'backward',
    flops: 2 * (2 * m * n * k),
    bytes: f32 * (m * n + m * k + k * n) + f32 * (m * k + k * n),
    graft(gpu: Gpu) {
      const a = gpu.upload(uniformData(1, m * k), [m, k]);
      const b = gpu.upload(uniformData(2, k * n), [k, n]);
      const dc = gpu.upload(uniformData(3, m * n), [m, n]);
      return {
        run: () => {
          const { da, db } = matmulBackward(gpu, dc, a, b, {}, { a: true, b: true });
          return [da!, db!];
        },
        dispose: () => gpu.release(a, b, dc),
      };
    },
    tfjs(tf: Tf) {
      const a = tf.tensor2d(uniformData(1, m * k), [m, k]);
      const b = tf.tensor2d(uniformData(2, k * n), [k, n]);
      const dc = tf.tensor2d(uniformData(3, m * n), [m, n]);
      return {
        // The two products tf.grad of tf.matMul produces.
        run: () => [tf.matMul(dc, b, false, true), tf.matMul(a, dc, true, false)],
        dispose: () => tf.dispose([a, b, dc]),
      };
    },
  };
}

export const cases: KernelBenchCase[] = [forward(1024, 1024, 1024), backward(1024, 1024, 1024), forward(512, 512, 512)];
