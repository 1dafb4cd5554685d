import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { expectClose, finiteDifferenceTolerance, numericGradient, randomTensor, testGpu } from '../testing/index.js';
import { activationBackwardHost, activationHost } from './activation.js';
import { addActivationHost } from './addActivation.js';
import { binary, binaryBackwardHost, binaryHost, fillHost, unary, unaryBackwardHost, unaryHost, type BinaryOp, type UnaryOp } from './elementwise.js';
import { globalAvgPoolBackwardHost, globalAvgPoolHost } from './globalAvgPool.js';
import { maxPool2dBackward, maxPool2dWithArgmax } from './maxPool2d.js';
import { globalAvgPoolBackwardRef, globalAvgPoolRef } from './globalAvgPool.ref.js';
import { maxPool2dBackwardRef, maxPool2dRef } from './maxPool2d.ref.js';
import { activationRef } from './activation.ref.js';
import { binaryBackwardRef, binaryRef, unaryBackwardRef, unaryRef } from './elementwise.ref.js';
import { linearWorkgroups } from '../runtime/workgroups.js';
import { withWorkgroupLimit as withLimit } from '../testing/workgroupLimit.js';

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

describe('flat kernels on a two-dimensional workgroup grid', () => {
  // Real tensors reach the 65,535-workgroup limit only past 16.7 M elements; lowering the limit the
  // launchers see to 5 sends small tensors through the same folded-grid path.
  const withWorkgroupLimit = <T>(limit: number, body: () => Promise<T>) => withLimit(gpu, limit, body);

  it('the launchers see the lowered limit: linearWorkgroups splits into full rows past it', async () => {
    await withWorkgroupLimit(5, async () => {
      expect(linearWorkgroups(gpu.limits, 64 * 5, 64)).toEqual([5, 1]);
      expect(linearWorkgroups(gpu.limits, 64 * 5 + 1, 64)).toEqual([5, 2]);
      expect(linearWorkgroups(gpu.limits, 64 * 23, 64)).toEqual([5, 5]);
    });
  });

  it('every kernel folds the grid back to the right elements', async () => {
    const shape = [3, 9, 11, 13]; // 3861 elements: 16 groups of 256 -> a [5, 4] grid with a ragged last row
    const x = randomTensor(41, shape, -8, 8);
    const x2 = randomTensor(42, shape, -8, 8);
    await withWorkgroupLimit(5, async () => {
      expectClose((await unaryHost(gpu, 'neg', x)).data, unaryRef('neg', x.data), elementTolerance, 'unary');
      expectClose((await binaryHost(gpu, 'sub', x, x2)).data, binaryRef('sub', x.data, x2.data), elementTolerance, 'binary');
      const y = await activationHost(gpu, x, 'relu6');
      expectClose(y.data, activationRef(x.data, 'relu6'), elementTolerance, 'activation');
      expectClose((await activationBackwardHost(gpu, x2, y, 'relu6')).data, x2.data.map((g, i) => (y.data[i]! > 0 && y.data[i]! < 6 ? g : 0)), elementTolerance, 'activationBackward');
      expectClose((await addActivationHost(gpu, x, x2, 'relu')).data, binaryRef('add', x.data, x2.data).map((v) => Math.max(v, 0)), { rtol: 1.2e-7, atol: 0 }, 'addActivation');
      // GAP has one invocation per (image, channel group): 400 images x 1 group = 7 workgroups.
      const images = randomTensor(43, [400, 2, 2, 3]);
      expectClose((await globalAvgPoolHost(gpu, images)).data, globalAvgPoolRef(images.data, 400, 2, 2, 3), reductionTolerance, 'globalAvgPool');
      const dyImages = randomTensor(44, [400, 3]);
      expectClose((await globalAvgPoolBackwardHost(gpu, dyImages, [400, 2, 2, 3])).data, globalAvgPoolBackwardRef(dyImages.data, 400, 2, 2, 3), elementTolerance, 'globalAvgPoolBackward');
    });
    // maxPool2d 1x40x40x5, 3x3/2 same: the forward has 10*10 blocks of 2x2 outputs * 2 channel groups
    // = 200 invocations (4 workgroups: [3, 2] under a limit of 3); the backward 20*20 blocks of 2x2
    // inputs * 2 = 800 (13 workgroups: [5, 3] under a limit of 5).
    const g = { n: 1, h: 40, w: 40, c: 5, kH: 3, kW: 3, strideH: 2, strideW: 2, padTop: 0, padBottom: 1, padLeft: 0, padRight: 1 };
    const options = { kernelSize: 3, stride: 2, padding: 'same' } as const;
    const px = randomTensor(45, [1, 40, 40, 5]);
    const pdy = randomTensor(46, [1, 20, 20, 5]);
    const x3 = gpu.upload(px.data, px.shape);
    const dy3 = gpu.upload(pdy.data, pdy.shape);
    const { y: pooled, argmax } = await withWorkgroupLimit(3, async () => maxPool2dWithArgmax(gpu, x3, options));
    const dx = await withWorkgroupLimit(5, async () => maxPool2dBackward(gpu, dy3, argmax, px.shape, options));
    const want = maxPool2dRef(px.data, g);
    expectClose(await gpu.read(pooled), want.y, { rtol: 0, atol: 0 }, 'maxPool2d');
    expectClose(await gpu.read(dx), maxPool2dBackwardRef(pdy.data, want.winner, px.data.length), { rtol: 1e-6, atol: 1e-7 }, 'maxPool2dBackward');
    gpu.release(x3, dy3, pooled, argmax, dx);
  });
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
