import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import type { Activation } from '../runtime/validate.js';
import { expectClose, finiteDifferenceTolerance, numericGradient, randomTensor, testGpu } from '../testing/index.js';
import { activation, activationBackward, activationBackwardHost, activationHost } from './activation.js';
import { activationBackwardRef, activationRef } from './activation.ref.js';

// relu/relu6 and their masks are exact in f32: the kernel must reproduce the reference bit for bit.
const exact = { rtol: 0, atol: 0 };
const kinds: Activation[] = ['none', 'relu', 'relu6'];

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

/** Values in [-8, 8] spanning both relu6 bounds, pushed at least 1e-3 from the kinks at 0 and 6. */
function awayFromKinks(seed: number, length: number): Float32Array {
  const x = randomTensor(seed, [length], -8, 8).data;
  for (let i = 0; i < length; i++) {
    for (const kink of [0, 6]) if (Math.abs(x[i]! - kink) < 1e-3) x[i] = kink + 0.01;
  }
  return x;
}

describe('activation forward and backward vs reference', () => {
  for (const kind of kinds) {
    for (const shape of [[1], [7], [2, 5, 3, 7], [1, 9, 9, 6]]) {
      it(`${kind} ${JSON.stringify(shape)}`, async () => {
        const x = randomTensor(shape.length * 7 + 3, shape, -8, 8);
        const y = await activationHost(gpu, x, kind);
        expect(y.shape).toEqual(shape);
        expectClose(y.data, activationRef(x.data, kind), exact, 'y');
        const dy = randomTensor(99, shape);
        const dx = await activationBackwardHost(gpu, dy, y, kind);
        expectClose(dx.data, activationBackwardRef(dy.data, y.data, kind), exact, 'dx');
      });
    }

    it(`${kind}: reference backward matches finite differences away from the kinks`, () => {
      const x = awayFromKinks(5, 40);
      const dy = randomTensor(6, [40]).data;
      const y = activationRef(x, kind);
      expectClose(activationBackwardRef(dy, y, kind), numericGradient((v) => activationRef(v, kind), x, dy), finiteDifferenceTolerance);
    });
  }

  // PyTorch 1.13 (checked with torch.nn.functional.relu / relu6 and .backward on ones) gives
  //   relu  at x = [-1, 0, 3, 6, 7]: grad [0, 0, 1, 1, 1]
  //   relu6 at x = [-1, 0, 3, 6, 7]: grad [0, 0, 1, 0, 0]   (hardtanh_backward: strictly inside (0, 6))
  it('gradient at the kinks follows PyTorch: 0 at relu(0), relu6(0) and relu6(6)', async () => {
    const x = { data: Float32Array.from([-1, 0, 3, 6, 7]), shape: [5] };
    const ones = { data: new Float32Array(5).fill(1), shape: [5] };
    const reluY = await activationHost(gpu, x, 'relu');
    expect([...(await activationBackwardHost(gpu, ones, reluY, 'relu')).data]).toEqual([0, 0, 1, 1, 1]);
    const relu6Y = await activationHost(gpu, x, 'relu6');
    expect([...relu6Y.data]).toEqual([0, 0, 3, 6, 6]);
    expect([...(await activationBackwardHost(gpu, ones, relu6Y, 'relu6')).data]).toEqual([0, 0, 1, 0, 0]);
  });
});

describe('activation rejects bad arguments before dispatch', () => {
  it('unknown kind, mismatched y, u32 input', () => {
    const x = gpu.allocate([2, 3]);
    const y = gpu.allocate([3, 2]);
    expect(() => activation(gpu, x, 'gelu' as never)).toThrow(KernelArgumentError);
    expect(() => activationBackward(gpu, x, y, 'relu')).toThrow(/activationBackward: argument 'y' expected shape \[2, 3\]/);
    const u = gpu.allocate([2, 3], 'u32');
    expect(() => activation(gpu, u, 'relu')).toThrow(/dtype f32/);
    gpu.release(x, y, u);
  });
});
