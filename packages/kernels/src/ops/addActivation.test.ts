import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import type { Activation } from '../runtime/validate.js';
import { expectClose, finiteDifferenceTolerance, numericGradient, randomTensor, testGpu } from '../testing/index.js';
import { addActivation, addActivationBackwardHost, addActivationHost } from './addActivation.js';
import { addActivationBackwardRef, addActivationRef } from './addActivation.ref.js';

// One f32 addition per element, rounded once: the f64 reference of the f32 inputs differs by
// at most half an ulp of the sum (~6e-8 relative).
const forwardTolerance = { rtol: 1.2e-7, atol: 0 };

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

describe('addActivation vs reference', () => {
  for (const kind of ['none', 'relu', 'relu6'] as Activation[]) {
    for (const shape of [[1, 1, 1, 1], [1, 3, 5, 7], [2, 7, 7, 6], [3, 4, 4, 9]]) {
      it(`${kind} ${JSON.stringify(shape)}`, async () => {
        const a = randomTensor(1, shape, -5, 5);
        const b = randomTensor(2, shape, -5, 5);
        const y = await addActivationHost(gpu, a, b, kind);
        expect(y.shape).toEqual(shape);
        expectClose(y.data, addActivationRef(a.data, b.data, kind), forwardTolerance, 'y');
        const dy = randomTensor(3, shape);
        const grad = await addActivationBackwardHost(gpu, dy, y, kind);
        // Masking is exact: the kernel mask on its own y must equal the reference mask on that y.
        expectClose(grad.data, addActivationBackwardRef(dy.data, y.data, kind).da, { rtol: 0, atol: 0 }, 'dsum');
      });
    }

    it(`${kind}: reference backward matches finite differences in a and in b`, () => {
      const n = 30;
      const a = randomTensor(4, [n], -4, 4).data;
      const b = Float64Array.from(randomTensor(5, [n], -4, 4).data);
      // Keep a + b at least 1e-3 from the kinks at 0 and 6.
      for (let i = 0; i < n; i++) for (const kink of [0, 6]) if (Math.abs(a[i]! + b[i]! - kink) < 1e-3) b[i] += 0.01;
      const dy = randomTensor(6, [n]).data;
      const { da, db } = addActivationBackwardRef(dy, addActivationRef(a, b, kind), kind);
      expectClose(da, numericGradient((v) => addActivationRef(v, b, kind), a, dy), finiteDifferenceTolerance, 'da');
      expectClose(db, numericGradient((v) => addActivationRef(a, v, kind), b, dy), finiteDifferenceTolerance, 'db');
    });
  }

  it('relu at a + b exactly 0 passes no gradient', async () => {
    const a = { data: Float32Array.from([1, -2, 3, 0.5]), shape: [4] };
    const b = { data: Float32Array.from([-1, 2, 3, -0.25]), shape: [4] };
    const y = await addActivationHost(gpu, a, b, 'relu');
    expect([...y.data]).toEqual([0, 0, 6, 0.25]);
    const grad = await addActivationBackwardHost(gpu, { data: new Float32Array(4).fill(1), shape: [4] }, y, 'relu');
    expect([...grad.data]).toEqual([0, 0, 1, 1]);
  });
});

describe('addActivation rejects bad arguments before dispatch', () => {
  it('operands of different shapes, unknown activation', () => {
    const a = gpu.allocate([1, 4, 4, 3]);
    const b = gpu.allocate([1, 4, 4, 4]);
    expect(() => addActivation(gpu, a, b, 'relu')).toThrow(KernelArgumentError);
    expect(() => addActivation(gpu, a, b, 'relu')).toThrow(/addActivation: argument 'b' expected shape \[1, 4, 4, 3\]/);
    expect(() => addActivation(gpu, a, a, 'tanh' as never)).toThrow(/activation/);
    gpu.release(a, b);
  });
});
