import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { expectClose, finiteDifferenceTolerance, numericGradient, randomTensor, testGpu } from '../testing/index.js';
import { binary, binaryBackwardHost, binaryHost, fillHost, unary, unaryBackwardHost, unaryHost, type BinaryOp, type UnaryOp } from './elementwise.js';
import { binaryBackwardRef, binaryRef, unaryBackwardRef, unaryRef } from './elementwise.ref.js';

// One f32 operation per element: exp/log/sqrt are within a few ulp on Vulkan (~4e-7 relative);
// 2e-6 leaves room for lavapipe's approximate transcendental functions.
const elementTolerance = { rtol: 2e-6, atol: 1e-6 };
// Broadcast reductions sum up to ~70 terms of magnitude <= a few units.
const reductionTolerance = { rtol: 1e-5, atol: 1e-5 };

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

const unaryOps: UnaryOp[] = ['copy', 'neg', 'exp', 'log', 'sqrt', 'square', 'affine'];
const binaryOps: BinaryOp[] = ['add', 'sub', 'mul', 'div'];
// Odd sizes (tails of the 4-element blocks), a single element, and NHWC with C not a multiple of 4.
const shapes: number[][] = [[1], [7], [3, 5, 7], [2, 3, 3, 5]];

/** log and sqrt need positive inputs; div needs divisors away from 0. */
function inputFor(op: UnaryOp, seed: number, shape: readonly number[]) {
  return op === 'log' || op === 'sqrt' ? randomTensor(seed, shape, 0.2, 3) : randomTensor(seed, shape, -2, 2);
}

function broadcastShapes(shape: number[]): number[][] {
  const out = [shape, [1]];
  if (shape.length > 1) out.push(shape.slice(-1), shape.slice(-2));
  return out;
}

describe('unary forward vs reference', () => {
  for (const op of unaryOps) {
    for (const shape of shapes) {
      it(`${op} ${JSON.stringify(shape)}`, async () => {
        const x = inputFor(op, shape.length * 13 + 1, shape);
        const got = await unaryHost(gpu, op, x, -1.5, 0.25);
        expect(got.shape).toEqual(shape);
        expectClose(got.data, unaryRef(op, x.data, -1.5, 0.25), elementTolerance);
      });
    }
  }

  it('fill writes the value into every element', async () => {
    const got = await fillHost(gpu, [3, 5, 7], -2.5);
    expect(got.shape).toEqual([3, 5, 7]);
    expect([...got.data].every((v) => v === -2.5)).toBe(true);
  });

  it('log and sqrt follow IEEE outside their domain (as PyTorch does)', async () => {
    const x = { data: Float32Array.from([0, -1, 4, 1]), shape: [4] };
    const logs = await unaryHost(gpu, 'log', x);
    expect(logs.data[0]).toBe(-Infinity);
    expect(Number.isNaN(logs.data[1])).toBe(true);
    const roots = await unaryHost(gpu, 'sqrt', x);
    expect(Number.isNaN(roots.data[1])).toBe(true);
    expect(roots.data[2]).toBe(2);
  });
});

describe('unary backward', () => {
  for (const op of unaryOps) {
    it(`${op}: reference matches finite differences`, () => {
      const x = inputFor(op, 3, [11]).data;
      const dy = randomTensor(4, [11]).data;
      const numeric = numericGradient((v) => unaryRef(op, v, 1.7, 0.3), x, dy);
      expectClose(unaryBackwardRef(op, dy, x, 1.7), numeric, finiteDifferenceTolerance);
    });

    it(`${op}: kernel composition matches the reference`, async () => {
      const shape = [2, 3, 3, 5];
      const x = inputFor(op, 5, shape);
      const y = { data: Float32Array.from(unaryRef(op, x.data, 1.7, 0.3)), shape };
      const dy = randomTensor(6, shape);
      const got = await unaryBackwardHost(gpu, op, dy, { x, y }, 1.7);
      expect(got.shape).toEqual(shape);
      // exp/sqrt backward use the f32 output y; one rounding of y and one of the product.
      expectClose(got.data, unaryBackwardRef(op, dy.data, x.data, 1.7), { rtol: 5e-6, atol: 1e-6 });
    });
  }
});

describe('binary forward vs reference (with broadcasting)', () => {
  for (const op of binaryOps) {
    for (const shape of shapes) {
      for (const bShape of broadcastShapes(shape)) {
        it(`${op} ${JSON.stringify(shape)} with b ${JSON.stringify(bShape)}`, async () => {
          const a = randomTensor(21, shape, -2, 2);
          const b = op === 'div' ? randomTensor(22, bShape, 0.5, 2) : randomTensor(22, bShape, -2, 2);
          const got = await binaryHost(gpu, op, a, b);
          expect(got.shape).toEqual(shape);
          expectClose(got.data, binaryRef(op, a.data, b.data), elementTolerance);
        });
      }
    }
  }
});

describe('binary backward', () => {
  for (const op of binaryOps) {
    for (const bShape of [[2, 3, 5], [5], [1]]) {
      const shape = [2, 2, 3, 5];
      const a = randomTensor(31, shape, -2, 2);
      // Divisors in [0.5, 2] with random sign would pass near 0; keep them positive.
      const b = op === 'div' ? randomTensor(32, bShape, 0.5, 2) : randomTensor(32, bShape, -2, 2);
      const dy = randomTensor(33, shape);

      it(`${op} b ${JSON.stringify(bShape)}: reference matches finite differences`, () => {
        const want = binaryBackwardRef(op, dy.data, a.data, b.data);
        expectClose(want.da, numericGradient((v) => binaryRef(op, v, b.data), a.data, dy.data), finiteDifferenceTolerance, 'da');
        expectClose(want.db, numericGradient((v) => binaryRef(op, a.data, v), b.data, dy.data), finiteDifferenceTolerance, 'db');
      });

      it(`${op} b ${JSON.stringify(bShape)}: kernel composition matches the reference`, async () => {
        const got = await binaryBackwardHost(gpu, op, dy, a, b);
        const want = binaryBackwardRef(op, dy.data, a.data, b.data);
        expect(got.da!.shape).toEqual(shape);
        expect(got.db!.shape).toEqual(bShape);
        expectClose(got.da!.data, want.da, elementTolerance, 'da');
        expectClose(got.db!.data, want.db, reductionTolerance, 'db');
      });
    }
  }
});

describe('elementwise ops reject bad arguments before dispatch', () => {
  it('b that is not a, a suffix of a, or [1]', () => {
    const a = gpu.allocate([2, 3, 5]);
    const b = gpu.allocate([3]);
    expect(() => binary(gpu, 'add', a, b)).toThrow(KernelArgumentError);
    expect(() => binary(gpu, 'mul', a, b)).toThrow(/mul: argument 'b' expected a's shape \[2, 3, 5\], its trailing dimensions, or \[1\], found \[3\]/);
    const big = gpu.allocate([4, 2, 3, 5]);
    expect(() => binary(gpu, 'sub', a, big)).toThrow(KernelArgumentError);
    gpu.release(a, b, big);
  });

  it('unknown op codes, non-finite constants and u32 tensors', () => {
    const x = gpu.allocate([4]);
    expect(() => unary(gpu, 'tanh' as never, x)).toThrow(/argument 'op' expected one of/);
    expect(() => binary(gpu, 'pow' as never, x, x)).toThrow(KernelArgumentError);
    expect(() => unary(gpu, 'affine', x, Number.NaN)).toThrow(/alpha/);
    expect(() => unary(gpu, 'fill', x)).toThrow(KernelArgumentError);
    const indices = gpu.allocate([4], 'u32');
    expect(() => unary(gpu, 'exp', indices)).toThrow(/dtype f32/);
    gpu.release(x, indices);
  });
});
