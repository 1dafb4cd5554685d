/**
 * Smoke cases: the elementwise families (unary, binary with broadcasting, fill), the standalone
 * activations, the residual add, and seeded dropout. Sizes are not multiples of 4, so every kernel's
 * 4-elements-per-invocation tail is exercised.
 */
import { activationBackwardHost, activationHost } from '../ops/activation.js';
import { activationBackwardRef, activationRef } from '../ops/activation.ref.js';
import { addActivationBackwardHost, addActivationHost } from '../ops/addActivation.js';
import { addActivationBackwardRef, addActivationRef } from '../ops/addActivation.ref.js';
import { dropoutBackwardHost, dropoutHost } from '../ops/dropout.js';
import { dropoutRef } from '../ops/dropout.ref.js';
import { binaryBackwardHost, binaryHost, fillHost, unaryBackwardHost, unaryHost } from '../ops/elementwise.js';
import { binaryBackwardRef, binaryRef, unaryBackwardRef, unaryRef } from '../ops/elementwise.ref.js';
import { randomTensor } from '../testing/random.js';
import { f32, type SmokeCase } from './case.js';

/** 1001 elements: 250 full blocks of 4 and a tail of 1. Values in [-8, 8] cross both relu6 kinks. */
const wide = (seed: number) => randomTensor(seed, [7, 11, 13], -8, 8);

export const elementwiseCases: SmokeCase[] = [
  {
    kernel: 'activation',
    shape: 'relu and relu6 of [7, 11, 13]',
    // max/min only select values: exact.
    tolerance: 0,
    async run(gpu) {
      const x = wide(51);
      return [
        { got: (await activationHost(gpu, x, 'relu')).data, want: activationRef(x.data, 'relu') },
        { got: (await activationHost(gpu, x, 'relu6')).data, want: activationRef(x.data, 'relu6') },
      ];
    },
  },
  {
    kernel: 'activationBackward',
    shape: 'relu and relu6 gradients on [7, 11, 13]',
    // dy passed or zeroed: exact.
    tolerance: 0,
    async run(gpu) {
      const [x, dy] = [wide(52), randomTensor(53, [7, 11, 13])];
      const comparisons = [];
      for (const kind of ['relu', 'relu6'] as const) {
        const y = f32(activationRef(x.data, kind), x.shape);
        comparisons.push({ got: (await activationBackwardHost(gpu, dy, y, kind)).data, want: activationBackwardRef(dy.data, y.data, kind) });
      }
      return comparisons;
    },
  },
  {
    kernel: 'addActivation',
    shape: 'relu6(a + b), [7, 11, 13]',
    // One f32 addition of values in [-8, 8]: half an ulp of 16, ~1e-6.
    tolerance: 1e-5,
    async run(gpu) {
      const [a, b] = [wide(54), wide(55)];
      return [{ got: (await addActivationHost(gpu, a, b, 'relu6')).data, want: addActivationRef(a.data, b.data, 'relu6') }];
    },
  },
  {
    kernel: 'addActivationBackward',
    shape: 'relu6 gradient (da = db) on [7, 11, 13]',
    // dy passed or zeroed: exact.
    tolerance: 0,
    async run(gpu) {
      const [a, b, dy] = [wide(56), wide(57), randomTensor(58, [7, 11, 13])];
      const y = f32(addActivationRef(a.data, b.data, 'relu6'), a.shape);
      const want = addActivationBackwardRef(dy.data, y.data, 'relu6');
      return [{ got: (await addActivationBackwardHost(gpu, dy, y, 'relu6')).data, want: want.da }];
    },
  },
  {
    kernel: 'unary',
    shape: 'exp, log, affine of [7, 11, 13]',
    // f32 exp/log (a few ulp; |exp(x)| <= e^2 ~ 7.4) and one fused multiply-add: ~1e-6.
    tolerance: 1e-5,
    async run(gpu) {
      const x = randomTensor(59, [7, 11, 13], -2, 2);
      const positive = randomTensor(60, [7, 11, 13], 0.1, 3);
      return [
        { got: (await unaryHost(gpu, 'exp', x)).data, want: unaryRef('exp', x.data) },
        { got: (await unaryHost(gpu, 'log', positive)).data, want: unaryRef('log', positive.data) },
        { got: (await unaryHost(gpu, 'affine', x, -1.5, 0.25)).data, want: unaryRef('affine', x.data, -1.5, 0.25) },
      ];
    },
  },
  {
    kernel: 'unaryBackward',
    shape: 'exp (from y), sqrt (from y), square (from x) on [7, 11, 13]',
    // One or two f32 operations on values <= ~16 (dy / sqrt(x) with x >= 0.1): a few ulp, ~1e-6.
    tolerance: 1e-5,
    async run(gpu) {
      const x = randomTensor(61, [7, 11, 13], 0.1, 2);
      const dy = randomTensor(62, [7, 11, 13]);
      const saved = (op: 'exp' | 'sqrt') => ({ x, y: f32(unaryRef(op, x.data), x.shape) });
      return [
        { got: (await unaryBackwardHost(gpu, 'exp', dy, saved('exp'))).data, want: unaryBackwardRef('exp', dy.data, x.data) },
        { got: (await unaryBackwardHost(gpu, 'sqrt', dy, saved('sqrt'))).data, want: unaryBackwardRef('sqrt', dy.data, x.data) },
        { got: (await unaryBackwardHost(gpu, 'square', dy, { x })).data, want: unaryBackwardRef('square', dy.data, x.data) },
      ];
    },
  },
  {
    kernel: 'binary',
    shape: 'sub [5, 3, 7] - [5, 3, 7], div by [7], mul by [1]',
    // One f32 operation on values <= 2 (b in [0.5, 1.5]): a few ulp, ~1e-6.
    tolerance: 1e-5,
    async run(gpu) {
      const a = randomTensor(63, [5, 3, 7]);
      const same = randomTensor(64, [5, 3, 7]);
      const row = randomTensor(65, [7], 0.5, 1.5);
      const scalar = { data: Float32Array.of(-0.75), shape: [1] };
      return [
        { got: (await binaryHost(gpu, 'sub', a, same)).data, want: binaryRef('sub', a.data, same.data) },
        { got: (await binaryHost(gpu, 'div', a, row)).data, want: binaryRef('div', a.data, row.data) },
        { got: (await binaryHost(gpu, 'mul', a, scalar)).data, want: binaryRef('mul', a.data, scalar.data) },
      ];
    },
  },
  {
    kernel: 'binaryBackward',
    shape: 'da, db of div by [7] and mul by [1], a [5, 3, 7]',
    // db sums 15 (div) or 105 (mul) terms of size <= 4: f32 rounding ~1e-5.
    tolerance: 1e-4,
    async run(gpu) {
      const [a, dy] = [randomTensor(66, [5, 3, 7]), randomTensor(67, [5, 3, 7])];
      const row = randomTensor(68, [7], 0.5, 1.5);
      const scalar = { data: Float32Array.of(-0.75), shape: [1] };
      const comparisons = [];
      for (const [op, b] of [['div', row], ['mul', scalar]] as const) {
        const got = await binaryBackwardHost(gpu, op, dy, a, b);
        const want = binaryBackwardRef(op, dy.data, a.data, b.data);
        comparisons.push({ got: got.da!.data, want: want.da }, { got: got.db!.data, want: want.db });
      }
      return comparisons;
    },
  },
  {
    kernel: 'fill',
    shape: '[5, 3, 7] = 2.5',
    // Writes one representable constant: exact.
    tolerance: 0,
    async run(gpu) {
      return [{ got: (await fillHost(gpu, [5, 3, 7], 2.5)).data, want: unaryRef('fill', new Float64Array(105), 1, 2.5) }];
    },
  },
  {
    kernel: 'dropout',
    shape: 'p = 0.3, seed 12345 on [7, 11, 13]',
    // Kept values are x * f32(1 / 0.7): within an ulp or two of x / 0.7 (|x| <= 8); a wrong mask bit costs O(1).
    tolerance: 1e-5,
    async run(gpu) {
      const x = wide(69);
      return [{ got: (await dropoutHost(gpu, x, 0.3, 12345)).data, want: dropoutRef(x.data, 12345, 0.3) }];
    },
  },
  {
    kernel: 'dropoutBackward',
    shape: 'p = 0.5, seed 4294967295 on [7, 11, 13]',
    // dy * 2 or 0: exact.
    tolerance: 0,
    async run(gpu) {
      const dy = wide(70);
      return [{ got: (await dropoutBackwardHost(gpu, dy, 0.5, 4294967295)).data, want: dropoutRef(dy.data, 4294967295, 0.5) }];
    },
  },
];
