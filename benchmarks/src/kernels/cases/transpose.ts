/**
 * transpose: the copy that routes transB matmuls (dense forward, dA) onto the fast no-transpose path.
 * Shapes: a 1024x1024 weight, and [1280, 1000] (a MobileNetV2-sized classifier weight, [out, in]).
 * tfjs: tf.transpose on the same 2-D tensor. Pure data movement: one read and one write per element.
 */
import { transpose, type Gpu } from '@graft/kernels';
import type { KernelBenchCase, Tf } from '../case.js';
import { uniformData } from '../data.js';

function transposeCase(rows: number, cols: number): KernelBenchCase {
  return {
    kernel: 'transpose',
    label: `transpose [${rows}, ${cols}]`,
    direction: 'forward',
    flops: 0,
    bytes: 4 * 2 * rows * cols,
    graft(gpu: Gpu) {
      const x = gpu.upload(uniformData(5, rows * cols), [rows, cols]);
      return { run: () => transpose(gpu, x), dispose: () => gpu.release(x) };
    },
    tfjs(tf: Tf) {
      const x = tf.tensor2d(uniformData(5, rows * cols), [rows, cols]);
      return { run: () => tf.transpose(x), dispose: () => tf.dispose(x) };
    },
  };
}

export const cases: KernelBenchCase[] = [transposeCase(1024, 1024), transposeCase(1280, 1000)];
