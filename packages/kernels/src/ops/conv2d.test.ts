import { beforeAll, describe, expect, it } from 'vitest';
import { KernelArgumentError } from '../runtime/errors.js';
import type { Gpu } from '../runtime/gpu.js';
import type { Activation } from '../runtime/validate.js';
import { expectClose, finiteDifferenceTolerance, hostTensor, loadFixture, numericGradient, randomTensor, testGpu } from '../testing/index.js';
import { conv2d, conv2dBackward, conv2dBackwardHost, conv2dGeometry, conv2dHost, type Conv2dOptions } from './conv2d.js';
import { conv2dBackwardRef, conv2dRef } from './conv2d.ref.js';
import { samePadding } from './padding.js';

// f32 sums of up to k_h*k_w*c_in = 7*7*5 = 245 products of values in [-1, 1]: rounding error grows
// like terms * 2^-24 ~ 1.5e-5 absolute; relative tolerance for the larger sums.
const forwardTolerance = { rtol: 1e-5, atol: 3e-5 };
// Gradient sums run over n*h_out*w_out pixels (dweight, up to ~400 terms) or k*k*c_out (dx): looser.
const gradTolerance = { rtol: 1e-4, atol: 1e-4 };

interface Case {
  name: string;
  x: [number, number, number, number];
  k: [number, number];
  cOut: number;
  options: Conv2dOptions;
}

const cases: Case[] = [
  { name: '1x1 batch 1, c_in 3 -> c_out 5', x: [1, 5, 7, 3], k: [1, 1], cOut: 5, options: {} },
  { name: '1x1 stride 2 odd input', x: [2, 7, 9, 6], k: [1, 1], cOut: 7, options: { stride: 2 } },
  { name: '1x1 padded (not a plain matmul)', x: [1, 4, 3, 5], k: [1, 1], cOut: 4, options: { padding: 1 } },
  { name: '1x1, c_out 37 > 32 (weight gradient as a matmul)', x: [2, 3, 5, 6], k: [1, 1], cOut: 37, options: {} },
  { name: '3x3 pad 1, c 7 -> 5', x: [2, 9, 11, 7], k: [3, 3], cOut: 5, options: { padding: 1 } },
  { name: '3x3 valid, c 4 -> 8', x: [1, 6, 8, 4], k: [3, 3], cOut: 8, options: { padding: 'valid' } },
  { name: '3x3 stride 2 same, odd input', x: [2, 9, 7, 5], k: [3, 3], cOut: 6, options: { stride: 2, padding: 'same' } },
  { name: '3x3 stride 2 same, even input', x: [1, 8, 10, 3], k: [3, 3], cOut: 9, options: { stride: 2, padding: 'same' } },
  { name: '3x3 pad 4 (wider than the reach)', x: [1, 5, 6, 3], k: [3, 3], cOut: 5, options: { padding: 4 } },
  { name: '3x3 asymmetric explicit padding', x: [1, 7, 6, 5], k: [3, 3], cOut: 7, options: { padding: [0, 2, 3, 1] } },
  { name: '3x3 stride (2, 3) dilation 2', x: [1, 11, 13, 3], k: [3, 3], cOut: 5, options: { stride: [2, 3], dilation: 2, padding: 'same' } },
  { name: '5x5 stride 2 same', x: [1, 11, 9, 3], k: [5, 5], cOut: 7, options: { stride: 2, padding: 'same' } },
  { name: '7x7 stride 2 same (stem)', x: [2, 13, 15, 3], k: [7, 7], cOut: 8, options: { stride: 2, padding: 'same' } },
  { name: '7x7 stride 2 same, c_in 5', x: [1, 9, 9, 5], k: [7, 7], cOut: 4, options: { stride: 2, padding: 'same' } },
  { name: '1x3 rectangular, pad [0,0,1,1]', x: [2, 5, 9, 6], k: [1, 3], cOut: 5, options: { padding: [0, 0, 1, 1] } },
  { name: '3x1 stride (1, 2)', x: [1, 8, 7, 4], k: [3, 1], cOut: 12, options: { stride: [1, 2], padding: [1, 1, 0, 0] } },
  { name: '3x3 stride 2 same, 17 -> 10 channels, 37 wide (several blocks)', x: [1, 3, 37, 17], k: [3, 3], cOut: 10, options: { stride: 2, padding: 'same' } },
  { name: '3x3 pad 1, 70 wide (several pixel workgroups)', x: [1, 2, 70, 3], k: [3, 3], cOut: 4, options: { padding: 1 } },
  { name: '3x3 pad 1, 6 -> 40 channels (4 channel lanes)', x: [1, 5, 6, 6], k: [3, 3], cOut: 40, options: { padding: 1 } },
  { name: '1x3 stride 2 same, 70 -> 70 channels (8 channel lanes, partial group)', x: [1, 3, 9, 70], k: [1, 3], cOut: 70, options: { stride: 2, padding: 'same' } },
  { name: 'kernel covers the whole input', x: [3, 4, 5, 2], k: [4, 5], cOut: 3, options: {} },
  { name: '3x3 pad 1, 32 -> 64 channels (the 8x8 workgroup shape real layers use)', x: [2, 4, 5, 32], k: [3, 3], cOut: 64, options: { padding: 1 } },
  { name: '7x7 stride 2 same, 3 -> 64 (ResNet stem shape, small image)', x: [1, 10, 9, 3], k: [7, 7], cOut: 64, options: { stride: 2, padding: 'same' } },
  { name: '3x3 pad 1, 8 -> 128 channels (16-channel lanes; 16-pixel blocks span rows and images)', x: [3, 3, 5, 8], k: [3, 3], cOut: 128, options: { padding: 1 } },
  { name: '3x3 stride 2 same, 5 -> 132 channels (16-channel lanes, last block partial)', x: [1, 7, 6, 5], k: [3, 3], cOut: 132, options: { stride: 2, padding: 'same' } },
];

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

function setup(c: Case, seed: number) {
  const [n, h, w, cIn] = c.x;
  const x = randomTensor(seed, c.x);
  const weight = randomTensor(seed + 1, [c.k[0], c.k[1], cIn, c.cOut]);
  const bias = randomTensor(seed + 2, [c.cOut]);
  const g = conv2dGeometry('test', [n, h, w, cIn], weight.shape, c.options);
  return { x, weight, bias, g };
}

describe('padding', () => {
  it("TF 'same' puts the odd pixel at the end", () => {
    expect(samePadding(224, 7, 2)).toEqual([2, 3]); // ResNet/MobileNet stem: out 112, total 5
    expect(samePadding(9, 3, 2)).toEqual([1, 1]);
    expect(samePadding(8, 3, 2)).toEqual([0, 1]);
    expect(samePadding(7, 1, 1)).toEqual([0, 0]);
    expect(samePadding(5, 3, 1, 2)).toEqual([2, 2]);
  });
});

describe('conv2d forward vs reference', () => {
  cases.forEach((c, i) => {
    it(c.name, async () => {
      const { x, weight, bias, g } = setup(c, 100 + 7 * i);
      const got = await conv2dHost(gpu, x, weight, { ...c.options, bias });
      expect(got.shape).toEqual([g.n, g.hOut, g.wOut, g.cOut]);
      expectClose(got.data, conv2dRef(x.data, weight.data, bias.data, g), forwardTolerance);
    });
  });

  for (const activation of ['relu', 'relu6'] as Activation[]) {
    it(`fused bias + ${activation}`, async () => {
      const c = cases[3]!;
      const { x, weight, g } = setup(c, 5);
      const bias = randomTensor(9, [c.cOut], -2, 2);
      const big = { data: x.data.map((v) => 3 * v), shape: x.shape };
      const got = await conv2dHost(gpu, big, weight, { ...c.options, bias, activation });
      const want = conv2dRef(big.data, weight.data, bias.data, g, activation);
      expect(want.some((v) => v === 0) && want.some((v) => v > 0)).toBe(true);
      if (activation === 'relu6') expect(want.some((v) => v === 6)).toBe(true);
      expectClose(got.data, want, forwardTolerance);
    });
  }

  it('more pixel blocks than one grid dimension holds (blocks continue in z)', async () => {
    const pixels = gpu.limits.maxComputeWorkgroupsPerDimension * 16 + 5; // 16 output pixels per workgroup
    const c: Case = { name: 'z', x: [1, 1, pixels, 1], k: [1, 3], cOut: 4, options: { padding: [0, 0, 1, 1] } };
    const { x, weight, bias, g } = setup(c, 31);
    const got = await conv2dHost(gpu, x, weight, { ...c.options, bias });
    expectClose(got.data, conv2dRef(x.data, weight.data, bias.data, g), forwardTolerance);
  });
});

describe('conv2d backward', () => {
  const small: Case[] = [
    { name: '3x3 stride 2 same, odd input', x: [1, 5, 5, 2], k: [3, 3], cOut: 3, options: { stride: 2, padding: 'same' } },
    { name: '2x3 asymmetric padding, dilation 2', x: [2, 4, 5, 3], k: [2, 3], cOut: 2, options: { padding: [1, 0, 2, 1], dilation: [1, 2] } },
  ];
  for (const c of small) {
    it(`reference gradients match finite differences: ${c.name}`, () => {
      const { x, weight, g } = setup(c, 21);
      const dy = randomTensor(23, [g.n, g.hOut, g.wOut, g.cOut]).data;
      const bias = randomTensor(24, [g.cOut]).data;
      const analytic = conv2dBackwardRef(dy, x.data, weight.data, g);
      const numericX = numericGradient((v) => conv2dRef(v, weight.data, undefined, g), x.data, dy);
      const numericW = numericGradient((v) => conv2dRef(x.data, v, undefined, g), weight.data, dy);
      const numericB = numericGradient((v) => conv2dRef(x.data, weight.data, v, g), bias, dy);
      expectClose(analytic.dx, numericX, finiteDifferenceTolerance, 'dx');
      expectClose(analytic.dweight, numericW, finiteDifferenceTolerance, 'dweight');
      expectClose(analytic.dbias, numericB, finiteDifferenceTolerance, 'dbias');
    });
  }

  cases.forEach((c, i) => {
    it(`kernel gradients match the reference: ${c.name}`, async () => {
      const { x, weight, g } = setup(c, 300 + 5 * i);
      const dy = randomTensor(301 + 5 * i, [g.n, g.hOut, g.wOut, g.cOut]);
      const got = await conv2dBackwardHost(gpu, dy, x, weight, c.options);
      const want = conv2dBackwardRef(dy.data, x.data, weight.data, g);
      expect(got.dx!.shape).toEqual(x.shape);
      expect(got.dweight!.shape).toEqual(weight.shape);
      expectClose(got.dx!.data, want.dx, gradTolerance, 'dx');
      expectClose(got.dweight!.data, want.dweight, gradTolerance, 'dweight');
      expectClose(got.dbias!.data, want.dbias, gradTolerance, 'dbias');
    });
  });

  it('dweight over many chunks (partial sums reduced with sumRows)', async () => {
    const c: Case = { name: 'chunks', x: [4, 32, 33, 3], k: [3, 3], cOut: 4, options: { padding: 'same' } };
    const { x, weight, g } = setup(c, 77);
    const dy = randomTensor(78, [g.n, g.hOut, g.wOut, g.cOut]);
    const got = await conv2dBackwardHost(gpu, dy, x, weight, c.options, { weight: true });
    // dweight sums 4*32*33 = 4224 products: f32 error ~ terms * 2^-24 relative to the sum of |terms|.
    expectClose(got.dweight!.data, conv2dBackwardRef(dy.data, x.data, weight.data, g).dweight, { rtol: 1e-4, atol: 1e-3 });
    expect(got.dx).toBeUndefined();
    expect(got.dbias).toBeUndefined();
  });
});

describe('conv2d PyTorch goldens', () => {
  const fixture = loadFixture('conv2d');
  for (const fc of fixture.cases) {
    it(fc.name, async () => {
      const options = fc.attrs as Conv2dOptions;
      const x = hostTensor(fc.inputs.x!);
      const weight = hostTensor(fc.inputs.weight!);
      const bias = hostTensor(fc.inputs.bias!);
      const y = await conv2dHost(gpu, x, weight, { ...options, bias });
      expectClose(y.data, fc.outputs.y!.data, forwardTolerance, 'y');
      const grads = await conv2dBackwardHost(gpu, hostTensor(fc.inputs.dy!), x, weight, options);
      expectClose(grads.dx!.data, fc.outputs.dx!.data, gradTolerance, 'dx');
      expectClose(grads.dweight!.data, fc.outputs.dweight!.data, gradTolerance, 'dweight');
      expectClose(grads.dbias!.data, fc.outputs.dbias!.data, gradTolerance, 'dbias');
    });
  }
});

describe('conv2d rejects bad arguments before dispatch', () => {
  it('wrong rank, c_in mismatch, stride 0, kernel larger than the padded input, bad bias', () => {
    const x = gpu.allocate([1, 5, 5, 3]);
    const flat = gpu.allocate([5, 5, 3]);
    const weight = gpu.allocate([3, 3, 3, 4]);
    const wrongCin = gpu.allocate([3, 3, 2, 4]);
    const huge = gpu.allocate([7, 7, 3, 4]);
    const bias = gpu.allocate([3]);
    expect(() => conv2d(gpu, flat, weight)).toThrow(KernelArgumentError);
    expect(() => conv2d(gpu, flat, weight)).toThrow(/conv2d: argument 'x' expected rank 4/);
    expect(() => conv2d(gpu, x, flat)).toThrow(/argument 'weight' expected rank 4/);
    expect(() => conv2d(gpu, x, wrongCin)).toThrow(/argument 'weight' expected shape \[\*, \*, 3, \*\].*found \[3, 3, 2, 4\]/);
    expect(() => conv2d(gpu, x, weight, { stride: 0 })).toThrow(/argument 'stride' expected a positive integer, found 0/);
    expect(() => conv2d(gpu, x, weight, { stride: [1, 1.5] })).toThrow(/argument 'stride'/);
    expect(() => conv2d(gpu, x, huge)).toThrow(/argument 'weight' expected a kernel .* no larger than the padded input 5x5/);
    gpu.release(conv2d(gpu, x, huge, { padding: 1 })); // 7x7 fits once padded to 7x7
    expect(() => conv2d(gpu, x, weight, { padding: -1 })).toThrow(/argument 'padding'/);
    expect(() => conv2d(gpu, x, weight, { padding: [1, 1, 1] as never })).toThrow(/argument 'padding'/);
    expect(() => conv2d(gpu, x, weight, { bias })).toThrow(/argument 'bias' expected shape \[4\]/);
    expect(() => conv2d(gpu, x, weight, { activation: 'gelu' as never })).toThrow(/argument 'activation'/);
    const dyWrong = gpu.allocate([1, 5, 5, 4]);
    expect(() => conv2dBackward(gpu, dyWrong, x, weight)).toThrow(/conv2dBackward: argument 'dy' expected shape \[1, 3, 3, 4\]/);
    gpu.release(x, flat, weight, wrongCin, huge, bias, dyWrong);
  });
});
