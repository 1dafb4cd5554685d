/**
 * Smoke cases: conv2d and depthwiseConv2d, forward and backward, with TF-'same' padding at stride 2
 * on sizes where the total padding is odd (the extra row/column goes at the bottom/right). The
 * geometry handed to the references is written out here from TF's rule, not taken from the launchers.
 */
import { conv2dBackwardHost, conv2dHost } from '../ops/conv2d.js';
import { conv2dBackwardRef, conv2dRef, type Conv2dGeometry } from '../ops/conv2d.ref.js';
import { depthwiseConv2dBackwardHost, depthwiseConv2dHost } from '../ops/depthwiseConv2d.js';
import { depthwiseConv2dBackwardRef, depthwiseConv2dRef, type DepthwiseDims } from '../ops/depthwiseConv2d.ref.js';
import { randomTensor } from '../testing/random.js';
import type { SmokeCase } from './case.js';

/**
 * x [2, 10, 9, 5], weight [3, 3, 5, 7], stride 2, 'same': out = ceil(in / 2) = 5 x 5.
 * Rows: total pad (5 - 1) * 2 + 3 - 10 = 1 -> top 0, bottom 1. Columns: (5 - 1) * 2 + 3 - 9 = 2 -> left 1, right 1.
 */
const conv: Conv2dGeometry = {
  n: 2, h: 10, w: 9, cIn: 5, hOut: 5, wOut: 5, cOut: 7, kH: 3, kW: 3,
  strideH: 2, strideW: 2, dilationH: 1, dilationW: 1, padTop: 0, padLeft: 1,
};
const convX = () => randomTensor(11, [conv.n, conv.h, conv.w, conv.cIn]);
const convWeight = () => randomTensor(12, [conv.kH, conv.kW, conv.cIn, conv.cOut]);

/**
 * x [2, 9, 10, 6] (c not a multiple of 4), weight [3, 3, 6], stride 2, 'same': out 5 x 5.
 * Rows: total pad (5 - 1) * 2 + 3 - 9 = 2 -> 1, 1. Columns: (5 - 1) * 2 + 3 - 10 = 1 -> left 0, right 1.
 */
const dw: DepthwiseDims = { n: 2, h: 9, w: 10, c: 6, kH: 3, kW: 3, strideH: 2, strideW: 2, padTop: 1, padBottom: 1, padLeft: 0, padRight: 1 };
const dwX = () => randomTensor(21, [dw.n, dw.h, dw.w, dw.c]);
const dwWeight = () => randomTensor(22, [dw.kH, dw.kW, dw.c]);

export const convCases: SmokeCase[] = [
  {
    kernel: 'conv2d',
    shape: '[2, 10, 9, 5] * [3, 3, 5, 7], s2 same + bias, relu',
    // 45-term f32 dot products of values in [-1, 1]: rounding ~1e-6; an indexing slip is O(0.1).
    tolerance: 1e-4,
    async run(gpu) {
      const [x, weight, bias] = [convX(), convWeight(), randomTensor(13, [conv.cOut])];
      const got = await conv2dHost(gpu, x, weight, { stride: 2, padding: 'same', bias, activation: 'relu' });
      return [{ got: got.data, want: conv2dRef(x.data, weight.data, bias.data, conv, 'relu') }];
    },
  },
  {
    kernel: 'conv2dBackward',
    shape: 'dx, dW, dbias of [2, 10, 9, 5] * [3, 3, 5, 7], s2 same',
    // dx: <= 63-term sums, dW: 50-term sums, dbias: 50-term sums, all of values in [-1, 1]: rounding ~1e-6.
    tolerance: 1e-4,
    async run(gpu) {
      const [x, weight, dy] = [convX(), convWeight(), randomTensor(14, [conv.n, conv.hOut, conv.wOut, conv.cOut])];
      const got = await conv2dBackwardHost(gpu, dy, x, weight, { stride: 2, padding: 'same' });
      const want = conv2dBackwardRef(dy.data, x.data, weight.data, conv);
      return [
        { got: got.dx!.data, want: want.dx },
        { got: got.dweight!.data, want: want.dweight },
        { got: got.dbias!.data, want: want.dbias },
      ];
    },
  },
  {
    kernel: 'depthwiseConv2d',
    shape: '[2, 9, 10, 6] * [3, 3, 6], s2 same + bias, relu6',
    // 9-tap f32 sums of values in [-1, 1]: rounding ~1e-7.
    tolerance: 1e-5,
    async run(gpu) {
      const [x, weight, bias] = [dwX(), dwWeight(), randomTensor(23, [dw.c])];
      const got = await depthwiseConv2dHost(gpu, x, weight, { stride: 2, padding: 'same', bias, activation: 'relu6' });
      return [{ got: got.data, want: depthwiseConv2dRef(x.data, weight.data, bias.data, dw, 'relu6') }];
    },
  },
  {
    kernel: 'depthwiseConv2dBackward',
    shape: 'dx, dW, dbias of [2, 9, 10, 6] * [3, 3, 6], s2 same',
    // dx: <= 9-term sums, dW and dbias: 50-term sums, of values in [-1, 1]: rounding ~1e-6.
    tolerance: 1e-4,
    async run(gpu) {
      const [x, weight, dy] = [dwX(), dwWeight(), randomTensor(24, [dw.n, 5, 5, dw.c])];
      const got = await depthwiseConv2dBackwardHost(gpu, dy, x, weight, { stride: 2, padding: 'same' });
      const want = depthwiseConv2dBackwardRef(dy.data, x.data, weight.data, dw);
      return [
        { got: got.dx!.data, want: want.dx },
        { got: got.dweight!.data, want: want.dw },
        { got: got.dbias!.data, want: want.dbias },
      ];
    },
  },
];
