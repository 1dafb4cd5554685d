import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { expectClose, randomTensor, testGpu } from '../testing/index.js';
import { meanAll, sumAll, sumRows, sumRowsHost } from './sumRows.js';
import { sumRowsRef } from './sumRows.ref.js';
import { withWorkgroupLimit as withLimit } from '../testing/workgroupLimit.js';

// Each output is a tree of f32 sums (chunks of 128, then chunks of those): error grows ~log(rows) * 2^-24
// relative to the sum of magnitudes; for at most a few thousand values in [-1, 1] 1e-5 is ample.
const tolerance = { rtol: 1e-5, atol: 1e-5 };

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

const withWorkgroupLimit = <T>(limit: number, body: () => Promise<T>) => withLimit(gpu, limit, body);

describe('sumRows vs reference', () => {
  for (const [rows, cols] of [[1, 1], [5, 3], [300, 7], [1000, 1], [129, 70]] as const) {
    it(`${rows} x ${cols}`, async () => {
      const x = randomTensor(rows * 31 + cols, [rows, cols]);
      const got = await sumRowsHost(gpu, x, cols, 0.5);
      expect(got.shape).toEqual([cols]);
      expectClose(got.data, sumRowsRef(x.data, rows, cols, 0.5), tolerance);
    });
  }

  it('folds the chunk index over y and z: 2000 x 3 (16 chunks) under a limit of 5 workgroups per dimension', async () => {
    const x = randomTensor(5, [2000, 3]);
    const got = await withWorkgroupLimit(5, () => sumRowsHost(gpu, x, 3));
    expectClose(got.data, sumRowsRef(x.data, 2000, 3), tolerance);
  });

  it('sums more than 65,535 chunks of 128 into a scalar: 9,000,000 ones is exactly 9e6', async () => {
    // 70,313 chunks on the first pass: past the per-dimension limit, so the grid folds into y and z.
    // Every partial sum is an integer below 2^24 (128, then <= 16384, <= 2^21, finally 9e6), and f32
    // represents those exactly, so the result must be exactly 9e6, not merely close.
    const size = 9_000_000;
    const x = gpu.upload(new Float32Array(size).fill(1), [size]);
    const total = sumAll(gpu, x);
    const mean = meanAll(gpu, x);
    expect(Array.from(await gpu.read(total))).toEqual([size]);
    expect(Array.from(await gpu.read(mean))).toEqual([1]);
    gpu.release(x, total, mean);
  });
});

describe('sumRows rejects bad arguments before dispatch', () => {
  it('a u32 tensor, cols that do not divide the size', () => {
    const u = gpu.allocate([4], 'u32');
    expect(() => sumRows(gpu, u, 1)).toThrow(KernelArgumentError);
    expect(() => sumRows(gpu, u, 1)).toThrow(/sumRows: argument 'x' expected dtype f32, found dtype u32/);
    const x = gpu.allocate([6]);
    expect(() => sumRows(gpu, x, 4)).toThrow(/divisible by cols = 4/);
    gpu.release(u, x);
  });
});
