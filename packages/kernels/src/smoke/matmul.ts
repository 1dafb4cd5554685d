/** Smoke cases: matmul (dense, gemm), sumRows (the reduction behind every bias gradient) and transpose. */
import { matmulBackwardHost, matmulHost } from '../ops/matmul.js';
import { matmulBackwardRef, matmulRef } from '../ops/matmul.ref.js';
import { sumRowsHost } from '../ops/sumRows.js';
import { sumRowsRef } from '../ops/sumRows.ref.js';
import { transposeHost } from '../ops/transpose.js';
import { transposeRef } from '../ops/transpose.ref.js';
import { randomTensor } from '../testing/random.js';
import type { SmokeCase } from './case.js';

export const matmulCases: SmokeCase[] = [
  {
    kernel: 'matmul',
    shape: '[33, 65] x [65, 17] + bias, relu',
    // 65-term f32 dot products of values in [-1, 1]: rounding ~1e-6; an indexing slip is O(0.1).
    tolerance: 1e-4,
    async run(gpu) {
      const a = randomTensor(1, [33, 65]);
      const b = randomTensor(2, [65, 17]);
      const bias = randomTensor(3, [17]);
      const got = await matmulHost(gpu, a, b, { bias, activation: 'relu' });
      return [{ got: got.data, want: matmulRef(a.data, b.data, bias.data, 33, 17, 65, { activation: 'relu' }) }];
    },
  },
  {
    kernel: 'matmulBackward',
    shape: 'dA, dB, dbias of [9, 7] x [5, 7]ᵀ',
    // Sums of at most 9 products of values in [-1, 1]: rounding ~1e-7.
    tolerance: 1e-4,
    async run(gpu) {
      const a = randomTensor(4, [9, 7]);
      const b = randomTensor(5, [5, 7]);
      const dc = randomTensor(6, [9, 5]);
      const got = await matmulBackwardHost(gpu, dc, a, b, { transB: true });
      const want = matmulBackwardRef(dc.data, a.data, b.data, 9, 5, 7, { transB: true });
      return [
        { got: got.da!.data, want: want.da },
        { got: got.db!.data, want: want.db },
        { got: got.dbias!.data, want: want.dbias },
      ];
    },
  },
  {
    kernel: 'sumRows',
    shape: '[1001, 7] -> [7]',
    // 1001-term f32 sums of values in [-1, 1] (totals ~30): accumulated rounding up to ~1e-5.
    tolerance: 1e-3,
    async run(gpu) {
      const x = randomTensor(7, [1001, 7]);
      const got = await sumRowsHost(gpu, x, 7);
      return [{ got: got.data, want: sumRowsRef(x.data, 1001, 7) }];
    },
  },
  {
    kernel: 'transpose',
    shape: '[36, 20] -> [20, 36] (4 x 4 blocks)',
    // It only moves values: any difference is a bug.
    tolerance: 0,
    async run(gpu) {
      const x = randomTensor(8, [36, 20]);
      const got = await transposeHost(gpu, x);
      return [{ got: got.data, want: transposeRef(x.data, 36, 20) }];
    },
  },
];
