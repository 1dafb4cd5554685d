/** sumRows: per-channel sums of an NHWC activation (the BatchNorm / bias-gradient reduction). */
import { sumRows, type Gpu } from '@graft/kernels';
import type { KernelBenchCase, Tf } from '../case.js';
import { uniformData } from '../data.js';

function perChannelSum(n: number, h: number, w: number, c: number): KernelBenchCase {
  const rows = n * h * w;
  return {
    kernel: 'sumRows',
    label: `sumRows [${n}*${h}*${w}, ${c}]`,
    direction: 'forward',
    flops: rows * c,
    bytes: 4 * (rows * c + c),
    graft(gpu: Gpu) {
      const x = gpu.upload(uniformData(4, rows * c), [rows, c]);
      return {
        run: () => sumRows(gpu, x, c),
        dispose: () => gpu.release(x),
      };
    },
    tfjs(tf: Tf) {
      const x = tf.tensor2d(uniformData(4, rows * c), [rows, c]);
      return {
        run: () => tf.sum(x, 0),
        dispose: () => tf.dispose(x),
      };
    },
  };
}

export const cases: KernelBenchCase[] = [perChannelSum(8, 56, 56, 64)];
