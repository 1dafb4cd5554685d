import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { expectClose, finiteDifferenceTolerance, hostTensor, loadFixture, numericGradient, randomTensor, testGpu } from '../testing/index.js';
import { globalAvgPool, globalAvgPoolBackward, globalAvgPoolBackwardHost, globalAvgPoolHost } from './globalAvgPool.js';
import { globalAvgPoolBackwardRef, globalAvgPoolRef } from './globalAvgPool.ref.js';

// Forward: f32 sums of up to h*w = 81 values in [-1, 1], error ~ 81 * 2^-24 relative to the
// sum of magnitudes; after dividing by h*w that is below 1e-6 absolute.
const forwardTolerance = { rtol: 1e-5, atol: 2e-6 };
// Backward: one f32 multiply by 1/(h*w) (itself rounded): two roundings, ~1.2e-7 relative.
const backwardTolerance = { rtol: 3e-7, atol: 0 };

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

const shapes: [n: number, h: number, w: number, c: number][] = [
  [1, 1, 1, 1],
  [1, 7, 7, 6], // c not a multiple of 4
  [2, 3, 5, 7],
  [3, 9, 9, 13],
  [2, 2, 3, 64],
];

describe('globalAvgPool vs reference', () => {
  for (const [n, h, w, c] of shapes) {
    it(`forward and backward ${n}x${h}x${w}x${c}`, async () => {
      const x = randomTensor(n * 100 + c, [n, h, w, c]);
      const y = await globalAvgPoolHost(gpu, x);
      expect(y.shape).toEqual([n, c]);
      expectClose(y.data, globalAvgPoolRef(x.data, n, h, w, c), forwardTolerance, 'y');
      const dy = randomTensor(7, [n, c]);
      const dx = await globalAvgPoolBackwardHost(gpu, dy, [n, h, w, c]);
      expect(dx.shape).toEqual([n, h, w, c]);
      expectClose(dx.data, globalAvgPoolBackwardRef(dy.data, n, h, w, c), backwardTolerance, 'dx');
    });
  }

  it('reference backward matches finite differences', () => {
    const [n, h, w, c] = [2, 3, 2, 3];
    const x = randomTensor(1, [n, h, w, c]).data;
    const dy = randomTensor(2, [n, c]).data;
    const numeric = numericGradient((v) => globalAvgPoolRef(v, n, h, w, c), x, dy);
    expectClose(globalAvgPoolBackwardRef(dy, n, h, w, c), numeric, finiteDifferenceTolerance);
  });
});

describe('globalAvgPool vs PyTorch goldens', () => {
  for (const golden of loadFixture('pooling').cases.filter((c) => c.attrs.op === 'globalAvgPool')) {
    it(golden.name, async () => {
      const x = hostTensor(golden.inputs.x!);
      const y = await globalAvgPoolHost(gpu, x);
      expectClose(y.data, golden.outputs.y!.data, forwardTolerance, 'y');
      const dx = await globalAvgPoolBackwardHost(gpu, hostTensor(golden.inputs.dy!), x.shape);
      expectClose(dx.data, golden.outputs.dx!.data, backwardTolerance, 'dx');
    });
  }
});

describe('globalAvgPool rejects bad arguments before dispatch', () => {
  it('wrong rank, wrong dy shape, bad xShape', () => {
    const x = gpu.allocate([2, 7, 7]);
    expect(() => globalAvgPool(gpu, x)).toThrow(KernelArgumentError);
    expect(() => globalAvgPool(gpu, x)).toThrow(/globalAvgPool: argument 'x' expected rank 4/);
    const dy = gpu.allocate([2, 5]);
    expect(() => globalAvgPoolBackward(gpu, dy, [2, 7, 7, 6])).toThrow(/argument 'dy' expected shape \[2, 6\]/);
    expect(() => globalAvgPoolBackward(gpu, dy, [2, 0, 7, 5])).toThrow(/argument 'xShape'/);
    gpu.release(x, dy);
  });
});
