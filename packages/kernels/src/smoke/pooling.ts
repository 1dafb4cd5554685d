/** Smoke cases: global average pooling and max pooling (TF-'same', overlapping windows), forward and backward. */
import { globalAvgPoolBackwardHost, globalAvgPoolHost } from '../ops/globalAvgPool.js';
import { globalAvgPoolBackwardRef, globalAvgPoolRef } from '../ops/globalAvgPool.ref.js';
import { maxPool2dForwardBackwardHost, maxPool2dHost, type MaxPool2dOptions } from '../ops/maxPool2d.js';
import { maxPool2dBackwardRef, maxPool2dRef, type MaxPoolRefGeometry } from '../ops/maxPool2d.ref.js';
import { randomTensor } from '../testing/random.js';
import type { SmokeCase } from './case.js';

/**
 * x [2, 9, 8, 5], 3 x 3 windows at stride 2 (overlapping), 'same': out 5 x 4.
 * Rows: total pad (5 - 1) * 2 + 3 - 9 = 2 -> 1, 1. Columns: (4 - 1) * 2 + 3 - 8 = 1 -> left 0, right 1.
 */
const pool: MaxPoolRefGeometry = { n: 2, h: 9, w: 8, c: 5, kH: 3, kW: 3, strideH: 2, strideW: 2, padTop: 1, padBottom: 1, padLeft: 0, padRight: 1 };
const poolOptions: MaxPool2dOptions = { kernelSize: 3, stride: 2, padding: 'same' };
const poolX = () => randomTensor(81, [pool.n, pool.h, pool.w, pool.c]);

export const poolingCases: SmokeCase[] = [
  {
    kernel: 'globalAvgPool',
    shape: '[3, 5, 7, 6] -> [3, 6]',
    // 35-term f32 means of values in [-1, 1]: rounding ~1e-7.
    tolerance: 1e-5,
    async run(gpu) {
      const x = randomTensor(82, [3, 5, 7, 6]);
      return [{ got: (await globalAvgPoolHost(gpu, x)).data, want: globalAvgPoolRef(x.data, 3, 5, 7, 6) }];
    },
  },
  {
    kernel: 'globalAvgPoolBackward',
    shape: 'dy [3, 6] -> dx [3, 5, 7, 6]',
    // dy / 35 in f32: an ulp or so, ~1e-8.
    tolerance: 1e-6,
    async run(gpu) {
      const dy = randomTensor(83, [3, 6]);
      return [{ got: (await globalAvgPoolBackwardHost(gpu, dy, [3, 5, 7, 6])).data, want: globalAvgPoolBackwardRef(dy.data, 3, 5, 7, 6) }];
    },
  },
  {
    kernel: 'maxPool2d',
    shape: '[2, 9, 8, 5], 3x3 s2 same',
    // A maximum selects one input: exact.
    tolerance: 0,
    async run(gpu) {
      const x = poolX();
      return [{ got: (await maxPool2dHost(gpu, x, poolOptions)).data, want: maxPool2dRef(x.data, pool).y }];
    },
  },
  {
    kernel: 'maxPool2dForwardBackward',
    shape: 'y and dx of [2, 9, 8, 5], 3x3 s2 same (windows overlap)',
    // dx adds up to 4 dy values where windows overlap: f32 rounding ~1e-7.
    tolerance: 1e-6,
    async run(gpu) {
      const [x, dy] = [poolX(), randomTensor(84, [pool.n, 5, 4, pool.c])];
      const got = await maxPool2dForwardBackwardHost(gpu, x, dy, poolOptions);
      const want = maxPool2dRef(x.data, pool);
      return [
        { got: got.y.data, want: want.y },
        { got: got.dx.data, want: maxPool2dBackwardRef(dy.data, want.winner, x.data.length) },
      ];
    },
  },
];
