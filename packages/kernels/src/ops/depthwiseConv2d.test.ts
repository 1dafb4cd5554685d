import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { expectClose, finiteDifferenceTolerance, hostTensor, loadFixture, numericGradient, randomArray, randomTensor, testGpu } from '../testing/index.js';
import {
  depthwiseConv2d,
  depthwiseConv2dBackward,
  depthwiseConv2dBackwardHost,
  depthwiseConv2dHost,
  depthwiseConv2dOutputShape,
  type DepthwiseConv2dOptions,
} from './depthwiseConv2d.js';
import { depthwiseConv2dBackwardRef, depthwiseConv2dRef, depthwiseOutputSize, type DepthwiseDims } from './depthwiseConv2d.ref.js';
import { resolvePadding } from './padding.js';
import { batchNormApply, batchNormScaleShift } from './batchNorm.js';

// Each output sums at most k_h * k_w = 25 products of values in [-1, 1]: f32 rounding ~25 * 2^-24 ~ 2e-6.
const forwardTolerance = { rtol: 1e-5, atol: 1e-5 };
// dx sums up to k_h * k_w products; dweight and dbias sum n * h_out * w_out products (up to ~3200 here), whose
// f32 rounding grows like sqrt(terms) * sum magnitude * 2^-24 and differs with the kernel's summation order.
const gradientTolerance = { rtol: 1e-4, atol: 1e-4 };

interface Case {
  n: number;
  h: number;
  w: number;
  c: number;
  k: [number, number];
  /** Geometry and activation; tests add bias or scaleShift themselves. */
  options: Omit<DepthwiseConv2dOptions, 'bias' | 'scaleShift'>;
}

const cases: Case[] = [
  { n: 1, h: 1, w: 1, c: 1, k: [1, 1], options: {} },
  { n: 1, h: 7, w: 5, c: 3, k: [3, 3], options: { padding: 'same' } }, // k_w = 3, stride_w 1: the register-row path
  { n: 2, h: 9, w: 7, c: 5, k: [3, 3], options: { stride: 2, padding: 'same' } }, // stride 2 on odd input
  { n: 1, h: 8, w: 8, c: 4, k: [3, 3], options: { stride: 2, padding: 'same' } }, // TF-same puts the odd pixel bottom/right
  { n: 1, h: 6, w: 9, c: 7, k: [5, 5], options: { padding: 'same' } },
  { n: 1, h: 5, w: 5, c: 13, k: [3, 3], options: { stride: 2, padding: [4, 4, 4, 4] } }, // padding wider than the kernel's reach
  { n: 1, h: 5, w: 6, c: 1, k: [5, 5], options: { padding: [2, 0, 1, 3] } }, // asymmetric explicit padding
  { n: 2, h: 11, w: 13, c: 32, k: [3, 3], options: { padding: 'same' } },
  { n: 1, h: 5, w: 9, c: 13, k: [3, 5], options: { stride: [2, 1] } }, // valid, non-square kernel and stride
  { n: 2, h: 6, w: 5, c: 8, k: [3, 3], options: { stride: 3, padding: 1 } },
  { n: 1, h: 7, w: 11, c: 6, k: [5, 3], options: { stride: [1, 2], padding: [2, 2, 1, 0] } }, // k_w = 3 with stride_w 2 and k_h 5: the generic loop
  // c % 4 == 0 takes main_vec4 (vec4 loads and stores): its generic loop, and its register row with padding wider than the kernel.
  { n: 2, h: 7, w: 10, c: 12, k: [5, 3], options: { stride: [1, 2], padding: [2, 2, 1, 0] } },
  { n: 1, h: 9, w: 7, c: 8, k: [3, 3], options: { padding: [3, 1, 4, 2] } },
];

function dimsOf(t: Case): DepthwiseDims {
  const stride = t.options.stride ?? 1;
  const [strideH, strideW] = typeof stride === 'number' ? [stride, stride] : stride;
  const win = { kH: t.k[0], kW: t.k[1], strideH, strideW, dilationH: 1, dilationW: 1 };
  const pad = resolvePadding('test', t.options.padding, t.h, t.w, win);
  return { n: t.n, h: t.h, w: t.w, c: t.c, kH: t.k[0], kW: t.k[1], strideH, strideW, padTop: pad.top, padBottom: pad.bottom, padLeft: pad.left, padRight: pad.right };
}

function label(t: Case): string {
  return `n${t.n} ${t.h}x${t.w}x${t.c} k${t.k.join('x')} ${JSON.stringify(t.options)}`;
}

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

describe('depthwiseConv2d forward vs reference', () => {
  cases.forEach((t, i) => {
    it(label(t), async () => {
      const d = dimsOf(t);
      const x = randomTensor(10 + i, [t.n, t.h, t.w, t.c]);
      const weight = randomTensor(20 + i, [t.k[0], t.k[1], t.c]);
      const bias = randomTensor(30 + i, [t.c]);
      const got = await depthwiseConv2dHost(gpu, x, weight, { ...t.options, bias });
      const { hOut, wOut } = depthwiseOutputSize(d);
      expect(got.shape).toEqual([t.n, hOut, wOut, t.c]);
      expectClose(got.data, depthwiseConv2dRef(x.data, weight.data, bias.data, d), forwardTolerance);
    });
  });

  it('TF-same output sizes: ceil(in / stride), odd padding pixel at the bottom/right', () => {
    expect(depthwiseConv2dOutputShape([1, 9, 7, 5], [3, 3, 5], { stride: 2, padding: 'same' })).toEqual([1, 5, 4, 5]);
    expect(depthwiseConv2dOutputShape([1, 8, 8, 4], [3, 3, 4], { stride: 2, padding: 'same' })).toEqual([1, 4, 4, 4]);
    const d = dimsOf(cases[3]!);
    expect([d.padTop, d.padBottom, d.padLeft, d.padRight]).toEqual([0, 1, 0, 1]);
  });

  for (const activation of ['relu', 'relu6'] as const) {
    it(`fused bias + ${activation}`, async () => {
      const t: Case = { n: 1, h: 6, w: 7, c: 5, k: [3, 3], options: { padding: 'same' } };
      const d = dimsOf(t);
      const x = randomTensor(1, [1, 6, 7, 5], -3, 3);
      const weight = randomTensor(2, [3, 3, 5], -1, 1);
      const bias = randomTensor(3, [5]);
      const got = await depthwiseConv2dHost(gpu, x, weight, { ...t.options, bias, activation });
      const want = depthwiseConv2dRef(x.data, weight.data, bias.data, d, activation);
      expect(want.some((v) => v === 0) && want.some((v) => v > 0)).toBe(true);
      if (activation === 'relu6') expect(want.some((v) => v === 6)).toBe(true);
      expectClose(got.data, want, forwardTolerance);
    });
  }
});

describe('depthwiseConv2d with a fused frozen batch norm (scaleShift)', () => {
  // Both entry points (c = 8: main_vec4, c = 7: main), each with its register row (stride 1) and its
  // generic tap loop (stride 2), with and without relu6.
  const fusedCases: { c: number; stride: number; activation: 'relu6' | undefined }[] = [];
  for (const c of [8, 7]) for (const stride of [1, 2]) for (const activation of ['relu6', undefined] as const) fusedCases.push({ c, stride, activation });

  /** Row 0 scale in [-2, 2] (negative too: BN's gamma may be), row 1 shift in [-1, 1]. */
  function scaleShiftFor(seed: number, c: number) {
    const data = new Float32Array(2 * c);
    data.set(randomArray(seed, c, -2, 2), 0);
    data.set(randomArray(seed + 1, c, -1, 1), c);
    return { data, shape: [2, c] as const };
  }

  /** Fused call and depthwise-then-batchNormApply on the same uploaded tensors, read back. */
  async function fusedAndSplit(x: { data: Float32Array; shape: readonly number[] }, weight: typeof x, scaleShift: typeof x, options: DepthwiseConv2dOptions) {
    const gx = gpu.upload(x.data, x.shape);
    const gw = gpu.upload(weight.data, weight.shape);
    const gs = gpu.upload(scaleShift.data, scaleShift.shape);
    const fused = depthwiseConv2d(gpu, gx, gw, { ...options, scaleShift: gs });
    const conv = depthwiseConv2d(gpu, gx, gw, { ...options, activation: undefined });
    const split = batchNormApply(gpu, conv, gs, options.activation);
    const result = { fused: await gpu.read(fused), split: await gpu.read(split), shape: fused.shape };
    gpu.release(gx, gw, gs, fused, conv, split);
    return result;
  }

  /** Index of the first element whose f32 bits differ (-1: none), so -0 vs +0 or NaN payloads count too. */
  function firstBitDifference(a: Float32Array, b: Float32Array): number {
    const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
    const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
    for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
    return ua.length === ub.length ? -1 : ua.length;
  }

  fusedCases.forEach(({ c, stride, activation }, i) => {
    it(`c ${c} stride ${stride} ${activation ?? 'no activation'}: bit-identical to depthwise + batchNormApply, close to the reference`, async () => {
      const t: Case = { n: 2, h: 9, w: 11, c, k: [3, 3], options: { stride, padding: 'same', activation } };
      const d = dimsOf(t);
      const x = randomTensor(200 + i, [t.n, t.h, t.w, c], -3, 3);
      const weight = randomTensor(210 + i, [3, 3, c]);
      const scaleShift = scaleShiftFor(220 + 2 * i, c);
      const { fused, split, shape } = await fusedAndSplit(x, weight, scaleShift, t.options);
      const { hOut, wOut } = depthwiseOutputSize(d);
      expect(shape).toEqual([t.n, hOut, wOut, c]);
      expect(firstBitDifference(fused, split)).toBe(-1);
      const want = depthwiseConv2dRef(x.data, weight.data, undefined, d, activation, scaleShift.data);
      if (activation === 'relu6') expect(want.some((v) => v === 0) && want.some((v) => v === 6)).toBe(true);
      // acc (up to 9 products of |x| <= 3) is scaled by |scale| <= 2: f32 rounding ~ 9 * 3 * 2 * 2^-24 ~ 3e-6.
      expectClose(fused, want, forwardTolerance);
    });
  });

  it('with the scaleShift batchNormScaleShift computes from running statistics', async () => {
    const c = 12;
    const t: Case = { n: 1, h: 8, w: 8, c, k: [3, 3], options: { stride: 2, padding: 'same', activation: 'relu6' } };
    const x = randomTensor(240, [1, 8, 8, c], -3, 3);
    const weight = randomTensor(241, [3, 3, c]);
    const params = {
      gamma: gpu.upload(randomArray(242, c, 0.5, 2), [c]),
      beta: gpu.upload(randomArray(243, c, -1, 1), [c]),
      runningMean: gpu.upload(randomArray(244, c, -0.5, 0.5), [c]),
      runningVar: gpu.upload(randomArray(245, c, 0.5, 2), [c]),
    };
    const { scaleShift, invstd } = batchNormScaleShift(gpu, params, { eps: 1e-3 });
    const scaleShiftHost = { data: await gpu.read(scaleShift), shape: scaleShift.shape };
    gpu.release(scaleShift, invstd, ...Object.values(params));
    const { fused, split } = await fusedAndSplit(x, weight, scaleShiftHost, t.options);
    expect(firstBitDifference(fused, split)).toBe(-1);
    expectClose(fused, depthwiseConv2dRef(x.data, weight.data, undefined, dimsOf(t), 'relu6', scaleShiftHost.data), forwardTolerance);
  });

  it('the Host variant takes scaleShift too', async () => {
    const t: Case = { n: 1, h: 5, w: 6, c: 3, k: [3, 3], options: { padding: 'same', activation: 'relu' } };
    const x = randomTensor(250, [1, 5, 6, 3]);
    const weight = randomTensor(251, [3, 3, 3]);
    const scaleShift = scaleShiftFor(252, 3);
    const got = await depthwiseConv2dHost(gpu, x, weight, { ...t.options, scaleShift });
    expectClose(got.data, depthwiseConv2dRef(x.data, weight.data, undefined, dimsOf(t), 'relu', scaleShift.data), forwardTolerance);
  });
});

describe('depthwiseConv2d backward', () => {
  const gradChecks: Case[] = [cases[2]!, cases[6]!, { n: 1, h: 4, w: 5, c: 2, k: [3, 3], options: { stride: 2, padding: [3, 1, 0, 2] } }];
  gradChecks.forEach((t, i) => {
    it(`reference gradient matches finite differences: ${label(t)}`, () => {
      const d = dimsOf(t);
      const { hOut, wOut } = depthwiseOutputSize(d);
      const x = randomTensor(40 + i, [t.n, t.h, t.w, t.c]).data;
      const weight = randomTensor(50 + i, [t.k[0], t.k[1], t.c]).data;
      const bias = randomTensor(60 + i, [t.c]).data;
      const dy = randomTensor(70 + i, [t.n, hOut, wOut, t.c]).data;
      const analytic = depthwiseConv2dBackwardRef(dy, x, weight, d);
      expectClose(analytic.dx, numericGradient((v) => depthwiseConv2dRef(v, weight, bias, d), x, dy), finiteDifferenceTolerance, 'dx');
      expectClose(analytic.dw, numericGradient((v) => depthwiseConv2dRef(x, v, bias, d), weight, dy), finiteDifferenceTolerance, 'dw');
      expectClose(analytic.dbias, numericGradient((v) => depthwiseConv2dRef(x, weight, v, d), bias, dy), finiteDifferenceTolerance, 'dbias');
    });
  });

  // The last case has enough output rows that dweight is split into many chunks and summed by sumRows.
  const backwardCases: Case[] = [...cases, { n: 2, h: 40, w: 40, c: 6, k: [3, 3], options: { padding: 'same' } }];
  backwardCases.forEach((t, i) => {
    it(`kernel gradients match the reference: ${label(t)}`, async () => {
      const d = dimsOf(t);
      const { hOut, wOut } = depthwiseOutputSize(d);
      const x = randomTensor(80 + i, [t.n, t.h, t.w, t.c]);
      const weight = randomTensor(90 + i, [t.k[0], t.k[1], t.c]);
      const dy = randomTensor(100 + i, [t.n, hOut, wOut, t.c]);
      const got = await depthwiseConv2dBackwardHost(gpu, dy, x, weight, t.options);
      const want = depthwiseConv2dBackwardRef(dy.data, x.data, weight.data, d);
      expect(got.dx!.shape).toEqual(x.shape);
      expect(got.dweight!.shape).toEqual(weight.shape);
      expect(got.dbias!.shape).toEqual([t.c]);
      expectClose(got.dx!.data, want.dx, gradientTolerance, 'dx');
      expectClose(got.dweight!.data, want.dw, gradientTolerance, 'dweight');
      expectClose(got.dbias!.data, want.dbias, gradientTolerance, 'dbias');
    });
  });

  it('computes only the requested gradients', async () => {
    const x = randomTensor(1, [1, 5, 5, 3]);
    const weight = randomTensor(2, [3, 3, 3]);
    const dy = randomTensor(3, [1, 5, 5, 3]);
    const onlyWeight = await depthwiseConv2dBackwardHost(gpu, dy, x, weight, { padding: 'same' }, { weight: true });
    expect(onlyWeight.dx).toBeUndefined();
    expect(onlyWeight.dbias).toBeUndefined();
    const d = dimsOf({ n: 1, h: 5, w: 5, c: 3, k: [3, 3], options: { padding: 'same' } });
    expectClose(onlyWeight.dweight!.data, depthwiseConv2dBackwardRef(dy.data, x.data, weight.data, d).dw, gradientTolerance);
    const onlyX = await depthwiseConv2dBackwardHost(gpu, dy, x, weight, { padding: 'same' }, { x: true });
    expect(onlyX.dweight).toBeUndefined();
    expect(onlyX.dx!.shape).toEqual([1, 5, 5, 3]);
  });
});

describe('depthwiseConv2d vs PyTorch goldens', () => {
  const fixture = loadFixture('depthwiseConv2d');
  for (const golden of fixture.cases) {
    it(golden.name, async () => {
      const options = { stride: golden.attrs.stride as [number, number], padding: golden.attrs.padding as [number, number, number, number] };
      const x = hostTensor(golden.inputs.x!);
      const weight = hostTensor(golden.inputs.weight!);
      const bias = hostTensor(golden.inputs.bias!);
      const dy = hostTensor(golden.inputs.dy!);
      const y = await depthwiseConv2dHost(gpu, x, weight, { ...options, bias });
      expect(y.shape).toEqual(golden.outputs.y!.shape);
      expectClose(y.data, golden.outputs.y!.data, forwardTolerance, 'y');
      const grads = await depthwiseConv2dBackwardHost(gpu, dy, x, weight, options);
      expectClose(grads.dx!.data, golden.outputs.dx!.data, gradientTolerance, 'dx');
      expectClose(grads.dweight!.data, golden.outputs.dweight!.data, gradientTolerance, 'dweight');
      expectClose(grads.dbias!.data, golden.outputs.dbias!.data, gradientTolerance, 'dbias');
    });
  }
});

describe('depthwiseConv2d rejects bad arguments before dispatch', () => {
  it('wrong ranks, mismatched channels, bias and activation', () => {
    const x = gpu.allocate([1, 5, 5, 4]);
    const x3 = gpu.allocate([5, 5, 4]);
    const weight = gpu.allocate([3, 3, 4]);
    const weight4 = gpu.allocate([3, 3, 4, 1]);
    const weightWrongC = gpu.allocate([3, 3, 3]);
    const bias = gpu.allocate([3]);
    expect(() => depthwiseConv2d(gpu, x3, weight)).toThrow(KernelArgumentError);
    expect(() => depthwiseConv2d(gpu, x3, weight)).toThrow(/depthwiseConv2d: argument 'x' expected rank 4/);
    expect(() => depthwiseConv2d(gpu, x, weight4)).toThrow(/argument 'weight' expected rank 3/);
    expect(() => depthwiseConv2d(gpu, x, weightWrongC)).toThrow(/argument 'weight' expected shape \[3, 3, 4\].*found \[3, 3, 3\]/);
    expect(() => depthwiseConv2d(gpu, x, weight, { bias })).toThrow(/argument 'bias' expected shape \[4\]/);
    expect(() => depthwiseConv2d(gpu, x, weight, { activation: 'gelu' as never })).toThrow(/activation/);
    gpu.release(x, x3, weight, weight4, weightWrongC, bias);
  });

  it('scaleShift: [2, c] f32, and not together with bias', () => {
    const x = gpu.allocate([1, 5, 5, 4]);
    const weight = gpu.allocate([3, 3, 4]);
    const bias = gpu.allocate([4]);
    const scaleShift = gpu.allocate([2, 4]);
    const flat = gpu.allocate([8]);
    const wrongC = gpu.allocate([2, 3]);
    const ints = gpu.allocate([2, 4], 'u32');
    expect(() => depthwiseConv2d(gpu, x, weight, { bias, scaleShift })).toThrow(KernelArgumentError);
    expect(() => depthwiseConv2d(gpu, x, weight, { bias, scaleShift })).toThrow(/argument 'scaleShift'.*no bias/);
    expect(() => depthwiseConv2d(gpu, x, weight, { scaleShift: flat })).toThrow(/argument 'scaleShift' expected shape \[2, 4\]/);
    expect(() => depthwiseConv2d(gpu, x, weight, { scaleShift: wrongC })).toThrow(/argument 'scaleShift' expected shape \[2, 4\]/);
    expect(() => depthwiseConv2d(gpu, x, weight, { scaleShift: ints })).toThrow(/argument 'scaleShift' expected .*f32/);
    gpu.release(x, weight, bias, scaleShift, flat, wrongC, ints);
  });

  it('bad stride, bad padding, a window larger than the padded input, a wrong dy', () => {
    const x = gpu.allocate([1, 5, 5, 4]);
    const weight = gpu.allocate([3, 3, 4]);
    const bigWeight = gpu.allocate([7, 7, 4]);
    const dy = gpu.allocate([1, 4, 4, 4]);
    expect(() => depthwiseConv2d(gpu, x, weight, { stride: 0 })).toThrow(/argument 'stride' expected a positive integer/);
    expect(() => depthwiseConv2d(gpu, x, weight, { padding: [1, 1, -1, 1] })).toThrow(/argument 'padding'/);
    expect(() => depthwiseConv2d(gpu, x, weight, { padding: 'full' as never })).toThrow(KernelArgumentError);
    expect(() => depthwiseConv2d(gpu, x, bigWeight)).toThrow(/window that fits/);
    expect(() => depthwiseConv2dBackward(gpu, dy, x, weight, { padding: 'same' })).toThrow(/argument 'dy' expected shape \[1, 5, 5, 4\]/);
    gpu.release(x, weight, bigWeight, dy);
  });
});
