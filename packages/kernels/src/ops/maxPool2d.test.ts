import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { expectClose, finiteDifferenceTolerance, hostTensor, loadFixture, numericGradient, randomTensor, testGpu } from '../testing/index.js';
import { maxPool2d, maxPool2dBackward, maxPool2dForwardBackwardHost, maxPool2dGeometry, maxPool2dWithArgmax, type MaxPool2dOptions } from './maxPool2d.js';
import { maxPool2dBackwardRef, maxPool2dRef, type MaxPoolRefGeometry } from './maxPool2d.ref.js';
import { resolvePadding } from './padding.js';

// Max selects an input value and the backward adds at most ceil(k/s)^2 = 4 of the f32 dy values
// (f64 in the reference): the forward is exact; the gradient sums are within a few ulp.
const exact = { rtol: 0, atol: 0 };
const gradientTolerance = { rtol: 1e-6, atol: 1e-7 };

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

function refGeometry(shape: readonly number[], options: MaxPool2dOptions): MaxPoolRefGeometry {
  const [n, h, w, c] = shape as [number, number, number, number];
  const [kH, kW] = typeof options.kernelSize === 'number' ? [options.kernelSize, options.kernelSize] : options.kernelSize;
  const stride = options.stride ?? options.kernelSize;
  const [strideH, strideW] = typeof stride === 'number' ? [stride, stride] : stride;
  const p = resolvePadding('test', options.padding, h, w, { kH, kW, strideH, strideW, dilationH: 1, dilationW: 1 });
  return { n, h, w, c, kH, kW, strideH, strideW, padTop: p.top, padBottom: p.bottom, padLeft: p.left, padRight: p.right };
}

interface Case {
  shape: [number, number, number, number];
  options: MaxPool2dOptions;
}

const cases: Case[] = [
  { shape: [1, 7, 7, 5], options: { kernelSize: 3, stride: 2, padding: 'same' } }, // odd 7: pads 1,1
  { shape: [2, 7, 7, 3], options: { kernelSize: 3, stride: 2, padding: 'valid' } },
  { shape: [1, 8, 10, 6], options: { kernelSize: 3, stride: 2, padding: 'same' } }, // pads 0,1: asymmetric
  { shape: [2, 5, 7, 4], options: { kernelSize: 2 } }, // stride defaults to 2; odd sizes drop a row/column
  { shape: [1, 6, 5, 9], options: { kernelSize: [2, 3], stride: [1, 2], padding: [1, 0, 2, 1] } },
  { shape: [1, 5, 5, 2], options: { kernelSize: 3, stride: 1, padding: 2 } }, // pad = k - 1: widest allowed
  { shape: [1, 9, 9, 3], options: { kernelSize: 2, stride: 3 } }, // stride past the window: cells no window covers
  { shape: [1, 1, 1, 1], options: { kernelSize: 1 } },
];

describe('maxPool2d kernel vs reference', () => {
  for (const { shape, options } of cases) {
    it(`${JSON.stringify(shape)} ${JSON.stringify(options)}`, async () => {
      const x = randomTensor(shape[1] * 17 + shape[3], shape, -1, 1);
      const g = refGeometry(shape, options);
      const want = maxPool2dRef(x.data, g);
      const dy = randomTensor(5, [shape[0], ...maxPool2dGeometryShape(shape, options), shape[3]]);
      const got = await maxPool2dForwardBackwardHost(gpu, x, dy, options);
      expect(got.y.shape).toEqual(dy.shape);
      expectClose(got.y.data, want.y, exact, 'y');
      expectClose(got.dx.data, maxPool2dBackwardRef(dy.data, want.winner, x.data.length), gradientTolerance, 'dx');
    });
  }

  it('3x3/2 TF-same on 112x112 (ResNet stem) gives 56x56', async () => {
    const shape = [1, 112, 112, 3] as const;
    const options: MaxPool2dOptions = { kernelSize: 3, stride: 2, padding: 'same' };
    const x = randomTensor(3, shape);
    const dy = randomTensor(4, [1, 56, 56, 3]);
    const got = await maxPool2dForwardBackwardHost(gpu, x, dy, options);
    expect(got.y.shape).toEqual([1, 56, 56, 3]);
    const want = maxPool2dRef(x.data, refGeometry(shape, options));
    expectClose(got.y.data, want.y, exact, 'y');
    expectClose(got.dx.data, maxPool2dBackwardRef(dy.data, want.winner, x.data.length), gradientTolerance, 'dx');
  });

  it('ties go to the first maximum in row-major window order; padding never wins', async () => {
    // One 3x3 window over a 2x2 image with pad 1 on top/left: all-negative values, two equal maxima.
    const x = { data: Float32Array.from([-3, -1, -1, -2]), shape: [1, 2, 2, 1] };
    const dy = { data: Float32Array.from([10]), shape: [1, 1, 1, 1] };
    const got = await maxPool2dForwardBackwardHost(gpu, x, dy, { kernelSize: 3, padding: [1, 0, 1, 0] });
    expect([...got.y.data]).toEqual([-1]);
    expect([...got.argmax]).toEqual([1 * 3 + 2]); // (ky, kx) = (1, 2): x[0, 1], before x[1, 0]
    expect([...got.dx.data]).toEqual([0, 10, 0, 0]);
  });

  it('plain maxPool2d (no indices) equals the indexed forward', async () => {
    const x = gpu.upload(randomTensor(8, [2, 7, 7, 5]).data, [2, 7, 7, 5]);
    const options: MaxPool2dOptions = { kernelSize: 3, stride: 2, padding: 'same' };
    const plain = maxPool2d(gpu, x, options);
    const { y, argmax } = maxPool2dWithArgmax(gpu, x, options);
    expect([...(await gpu.read(plain))]).toEqual([...(await gpu.read(y))]);
    gpu.release(x, plain, y, argmax);
  });
});

function maxPool2dGeometryShape(shape: readonly number[], options: MaxPool2dOptions): [number, number] {
  const g = maxPool2dGeometry('test', shape, options);
  return [g.out_h, g.out_w];
}

describe('maxPool2d reference backward vs finite differences', () => {
  for (const { shape, options } of cases.slice(0, 6)) {
    it(`${JSON.stringify(shape)} ${JSON.stringify(options)}`, () => {
      // Distinct values spaced >= 1e-3 apart (a shuffled ramp), so no perturbation of 1e-6 changes a winner.
      const size = shape.reduce((a, b) => a * b, 1);
      const order = randomTensor(11, [size]).data;
      const ranks = [...order.keys()].sort((i, j) => order[i]! - order[j]!);
      const x = new Float64Array(size);
      ranks.forEach((index, rank) => (x[index] = -1 + (2 * rank) / size));
      const g = refGeometry(shape, options);
      const { y, winner } = maxPool2dRef(x, g);
      const dy = randomTensor(12, [y.length]).data;
      const numeric = numericGradient((v) => maxPool2dRef(v, g).y, x, dy);
      expectClose(maxPool2dBackwardRef(dy, winner, size), numeric, finiteDifferenceTolerance);
    });
  }
});

describe('maxPool2d vs PyTorch goldens (F.pad with -inf, then max_pool2d)', () => {
  for (const golden of loadFixture('pooling').cases.filter((c) => c.attrs.op === 'maxPool2d')) {
    it(golden.name, async () => {
      const options: MaxPool2dOptions = {
        kernelSize: golden.attrs.kernelSize as [number, number],
        stride: golden.attrs.stride as [number, number],
        padding: golden.attrs.padding as MaxPool2dOptions['padding'],
      };
      const got = await maxPool2dForwardBackwardHost(gpu, hostTensor(golden.inputs.x!), hostTensor(golden.inputs.dy!), options);
      expect(got.y.shape).toEqual(golden.outputs.y!.shape);
      expectClose(got.y.data, golden.outputs.y!.data, exact, 'y');
      expectClose(got.dx.data, golden.outputs.dx!.data, gradientTolerance, 'dx');
    });
  }
});

describe('maxPool2d rejects bad arguments before dispatch', () => {
  it('padding as wide as the window (PyTorch: "pad should be at most half of kernel size")', () => {
    const x = gpu.allocate([1, 8, 8, 3]);
    expect(() => maxPool2d(gpu, x, { kernelSize: 3, padding: 3 })).toThrow(KernelArgumentError);
    expect(() => maxPool2d(gpu, x, { kernelSize: [3, 2], padding: [0, 0, 2, 0] })).toThrow(/argument 'padding' expected each pad smaller than the window/);
    gpu.release(x);
  });

  it('wrong rank, window larger than the input, bad stride', () => {
    const x3 = gpu.allocate([8, 8, 3]);
    expect(() => maxPool2d(gpu, x3, { kernelSize: 2 })).toThrow(/argument 'x' expected rank 4/);
    const x = gpu.allocate([1, 2, 2, 3]);
    expect(() => maxPool2d(gpu, x, { kernelSize: 3 })).toThrow(/argument 'x' expected h, w large enough/);
    expect(() => maxPool2d(gpu, x, { kernelSize: 2, stride: 0 })).toThrow(/argument 'stride'/);
    expect(() => maxPool2d(gpu, x, { kernelSize: 2, padding: 'full' as never })).toThrow(/argument 'padding'/);
    gpu.release(x3, x);
  });

  it('backward with mismatched dy or f32 indices', () => {
    const options: MaxPool2dOptions = { kernelSize: 3, stride: 2, padding: 'same' };
    const dy = gpu.allocate([1, 4, 4, 3]);
    const argmaxF32 = gpu.allocate([1, 4, 4, 3]);
    const argmax = gpu.allocate([1, 4, 4, 3], 'u32');
    expect(() => maxPool2dBackward(gpu, dy, argmax, [1, 9, 9, 3], options)).toThrow(/argument 'dy' expected shape \[1, 5, 5, 3\]/);
    expect(() => maxPool2dBackward(gpu, dy, argmaxF32, [1, 7, 7, 3], options)).toThrow(/argument 'argmax' expected dtype u32/);
    gpu.release(dy, argmaxF32, argmax);
  });
});
