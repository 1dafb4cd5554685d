/**
 * The fused frozen-batch-norm epilogue of matmul and conv2d (`scaleShift`): every entry point must give
 * exactly the bits of the op followed by batchNormApply with the same [2, C] scale/shift, since both
 * compute fma(sum, scale, shift) on the same f32 sum. (depthwiseConv2d.test.ts covers depthwise.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import type { GpuTensor } from '../runtime/tensor.js';
import { KernelArgumentError } from '../runtime/errors.js';
import type { Activation } from '../runtime/validate.js';
import { randomArray, testGpu } from '../testing/index.js';
import { batchNormApply, batchNormScaleShift } from './batchNorm.js';
import { conv2d } from './conv2d.js';
import { matmul } from './matmul.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

/** A frozen batch norm's scale/shift from random statistics, as models compute it. */
function frozenScaleShift(c: number, seed: number): GpuTensor {
  const up = (data: Float32Array) => gpu.upload(data, [c]);
  const gamma = up(randomArray(seed, c, 0.5, 2));
  const beta = up(randomArray(seed + 1, c));
  const runningMean = up(randomArray(seed + 2, c));
  const runningVar = up(randomArray(seed + 3, c, 0.1, 3));
  const { scaleShift, invstd } = batchNormScaleShift(gpu, { gamma, beta, runningMean, runningVar }, { eps: 1e-3 });
  gpu.release(gamma, beta, runningMean, runningVar, invstd);
  return scaleShift;
}

/** Runs `op` fused and unfused (op, then batchNormApply on its NHWC output) and compares bits. */
async function expectFusedEqualsUnfused(c: number, activation: Activation, op: (scaleShift?: GpuTensor, act?: Activation) => GpuTensor, asNhwc: (t: GpuTensor) => GpuTensor) {
  const scaleShift = frozenScaleShift(c, c * 13 + 1);
  const fused = op(scaleShift, activation);
  const plain = op();
  const unfused = batchNormApply(gpu, asNhwc(plain), scaleShift, activation);
  const [got, want] = [await gpu.read(fused), await gpu.read(unfused)];
  gpu.release(scaleShift, fused, plain, unfused);
  expect(got.length).toBe(want.length);
  let mismatches = 0;
  for (let i = 0; i < got.length; i++) if (!Object.is(got[i], want[i])) mismatches++;
  expect(mismatches).toBe(0);
  // Not a vacuous pass: the scale/shift changed the values.
  expect(got.some((v) => v !== 0)).toBe(true);
}

describe('matmul scaleShift epilogue: bit-identical to matmul then batchNormApply', () => {
  // main_narrow (N <= 32), main_vec4 (N % 4 == 0), main (N odd), and a transposed A.
  const cases: [m: number, n: number, k: number, transA: boolean, label: string][] = [
    [37, 24, 13, false, 'main_narrow'],
    [1, 8, 5, false, 'main_narrow, one row'],
    [33, 100, 17, false, 'main_vec4, partial tiles'],
    [19, 7, 9, false, 'main (N odd)'],
    [21, 44, 6, true, 'main_vec4, transA'],
  ];
  for (const [m, n, k, transA, label] of cases) {
    for (const activation of ['none', 'relu6'] as const) {
      it(`${m}x${n}x${k} ${label}, ${activation}`, async () => {
        const a = gpu.upload(randomArray(m + n, m * k, -2, 2), transA ? [k, m] : [m, k]);
        const b = gpu.upload(randomArray(k, k * n), [k, n]);
        await expectFusedEqualsUnfused(n, activation, (scaleShift, act) => matmul(gpu, a, b, { transA, scaleShift, activation: act }), (t) => t.reshape([1, 1, m, n]));
        gpu.release(a, b);
      });
    }
  }

  it('rejects a scaleShift beside a bias, of the wrong shape, or not f32', () => {
    const a = gpu.upload(randomArray(1, 12), [3, 4]);
    const b = gpu.upload(randomArray(2, 8), [4, 2]);
    const bias = gpu.upload(randomArray(3, 2), [2]);
    const good = gpu.upload(randomArray(4, 4), [2, 2]);
    const flat = gpu.upload(randomArray(5, 2), [2]);
    const ints = gpu.upload(new Uint32Array(4), [2, 2]);
    expect(() => matmul(gpu, a, b, { bias, scaleShift: good })).toThrow(/scaleShift.*no bias beside it/);
    expect(() => matmul(gpu, a, b, { scaleShift: flat })).toThrow(KernelArgumentError);
    expect(() => matmul(gpu, a, b, { scaleShift: flat })).toThrow(/\[2, 2\]/);
    expect(() => matmul(gpu, a, b, { scaleShift: ints })).toThrow(/f32/);
    gpu.release(a, b, bias, good, flat, ints);
  });
});

describe('conv2d scaleShift epilogue: bit-identical to conv2d then batchNormApply', () => {
  // c_out 7: main; 12: main_vec4; 128: main_vec4_wide; a 1x1 stride-1 conv goes through matmul.
  const cases: [n: number, hw: number, cIn: number, cOut: number, k: number, stride: number][] = [
    [1, 7, 3, 7, 3, 2],
    [2, 6, 5, 12, 3, 1],
    [1, 5, 4, 128, 3, 1],
    [2, 5, 6, 20, 1, 1],
  ];
  for (const [n, hw, cIn, cOut, k, stride] of cases) {
    it(`[${n},${hw},${hw},${cIn}] -> ${cOut} k${k} s${stride}, relu6`, async () => {
      const x = gpu.upload(randomArray(cOut, n * hw * hw * cIn, -2, 2), [n, hw, hw, cIn]);
      const w = gpu.upload(randomArray(cOut + 1, k * k * cIn * cOut), [k, k, cIn, cOut]);
      const run = (scaleShift?: GpuTensor, activation?: Activation) => conv2d(gpu, x, w, { stride, padding: 'same', scaleShift, activation });
      await expectFusedEqualsUnfused(cOut, 'relu6', run, (t) => t);
      gpu.release(x, w);
    });
  }

  it('rejects a scaleShift beside a bias or of the wrong shape', () => {
    const x = gpu.upload(randomArray(1, 2 * 5 * 5 * 3), [2, 5, 5, 3]);
    const w = gpu.upload(randomArray(2, 3 * 3 * 3 * 4), [3, 3, 3, 4]);
    const bias = gpu.upload(randomArray(3, 4), [4]);
    const wrong = gpu.upload(randomArray(4, 8), [4, 2]);
    expect(() => conv2d(gpu, x, w, { bias, scaleShift: wrong })).toThrow(/no bias beside it/);
    expect(() => conv2d(gpu, x, w, { scaleShift: wrong })).toThrow(/\[2, 4\]/);
    gpu.release(x, w, bias, wrong);
  });
});
