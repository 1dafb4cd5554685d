import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { randomTensor, testGpu } from '../testing/index.js';
import { transpose, transposeHost } from './transpose.js';
import { transposeRef } from './transpose.ref.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

// A transpose only moves values, so the comparisons are exact.
describe('transpose vs reference', () => {
  const shapes: [rows: number, cols: number][] = [
    [1, 1],
    [1, 7],
    [7, 1],
    [5, 3],
    [33, 17], // odd sides: one element per invocation
    [4, 8], // 4 x 4 blocks
    [12, 4],
    [36, 20],
    [64, 132], // blocks spanning several workgroups
    [8, 6], // rows % 4 == 0 but cols % 4 != 0: the element path
  ];
  for (const [rows, cols] of shapes) {
    it(`${rows}x${cols}`, async () => {
      const x = randomTensor(rows * 13 + cols, [rows, cols]);
      const got = await transposeHost(gpu, x);
      expect(got.shape).toEqual([cols, rows]);
      expect(Array.from(got.data)).toEqual(Array.from(transposeRef(x.data, rows, cols)));
    });
  }

  it('more workgroups than one grid dimension holds (the line folds into rows)', async () => {
    const rows = 3;
    const cols = Math.ceil((gpu.limits.maxComputeWorkgroupsPerDimension * 64) / rows) + 5; // element path, 64 per group
    const x = randomTensor(4, [rows, cols]);
    const got = await transposeHost(gpu, x);
    const want = transposeRef(x.data, rows, cols);
    let mismatches = 0; // counted by hand: vitest's deep equality on 4M elements takes ~20 s
    for (let i = 0; i < want.length; i++) if (got.data[i] !== want[i]) mismatches++;
    expect(got.data.length).toBe(want.length);
    expect(mismatches).toBe(0);
  });
});

describe('transpose rejects bad arguments before dispatch', () => {
  it('wrong rank, wrong out shape, out aliasing x', () => {
    const x3 = gpu.allocate([2, 3, 4]);
    const x = gpu.allocate([2, 3]);
    const wrong = gpu.allocate([2, 3]);
    expect(() => transpose(gpu, x3)).toThrow(/argument 'x' expected rank 2/);
    expect(() => transpose(gpu, x, wrong)).toThrow(/argument 'out' expected shape \[3, 2\]/);
    expect(() => transpose(gpu, x, x)).toThrow(KernelArgumentError);
    gpu.release(x3, x, wrong);
  });
});
