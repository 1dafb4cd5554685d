import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { expectClose, finiteDifferenceTolerance, hostTensor, loadFixture, numericGradient, randomTensor, testGpu } from '../testing/index.js';
import {
  sigmoidBinaryCrossEntropy,
  sigmoidBinaryCrossEntropyBackward,
  sigmoidBinaryCrossEntropyBackwardHost,
  sigmoidBinaryCrossEntropyHost,
} from './sigmoidBinaryCrossEntropy.js';
import { sigmoidBinaryCrossEntropyBackwardRef, sigmoidBinaryCrossEntropyRef } from './sigmoidBinaryCrossEntropy.ref.js';
import type { Reduction } from './softmaxCrossEntropy.js';

// Per element: one exp and a log1p, a few ulps; 'mean'/'sum' add an f32 sum of up to 300 terms
// (~300 * 6e-8 relative). Small losses of confident logits are exact to ~1e-7 absolute (log1p).
const lossTolerance = { rtol: 2e-5, atol: 1e-7 };
// Gradients: two sigmoids from one exp, exact to a few ulps, but (1 - t) s - pw t (1 - s) may cancel
// terms as large as pw * g ~ 4.5 here, so the error is absolute: a few ulps of 4.5, ~1e-6.
const gradTolerance = { rtol: 1e-5, atol: 1e-6 };

const reductionList: Reduction[] = ['mean', 'sum', 'none'];

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

function problem(seed: number, shape: number[], scale = 4) {
  const classes = shape.length === 2 ? shape[1]! : 1;
  return {
    logits: randomTensor(seed, shape, -scale, scale),
    targets: randomTensor(seed + 1, shape, 0, 1),
    posWeight: randomTensor(seed + 2, [classes], 0.5, 3),
    classes,
    upstream: (reduction: Reduction) => randomTensor(seed + 3, reduction === 'none' ? shape : [1], 0.5, 1.5),
  };
}

describe('sigmoidBinaryCrossEntropy reference', () => {
  for (const reduction of reductionList) {
    for (const weighted of [false, true]) {
      it(`backward matches finite differences (${reduction}, pos_weight=${weighted})`, () => {
        const p = problem(5, [4, 3]);
        const options = { reduction, posWeight: weighted ? p.posWeight.data : undefined };
        const g = p.upstream(reduction).data;
        const analytic = sigmoidBinaryCrossEntropyBackwardRef(g, p.logits.data, p.targets.data, p.classes, options);
        const numeric = numericGradient((x) => sigmoidBinaryCrossEntropyRef(x, p.targets.data, p.classes, options), p.logits.data, g);
        expectClose(analytic, numeric, finiteDifferenceTolerance);
      });
    }
  }

  it('equals the textbook form max(x, 0) - x t + log(1 + exp(-|x|)) without pos_weight', () => {
    const p = problem(6, [7]);
    const got = sigmoidBinaryCrossEntropyRef(p.logits.data, p.targets.data, 1, { reduction: 'none' });
    const want = Array.from(p.logits.data, (x, e) => Math.max(x, 0) - x * p.targets.data[e]! + Math.log(1 + Math.exp(-Math.abs(x))));
    expectClose(got, want, { rtol: 1e-12, atol: 1e-15 });
  });
});

describe('sigmoidBinaryCrossEntropy kernel vs reference', () => {
  const shapes = [[1], [9], [1, 1], [64, 1], [5, 3], [30, 10], [3, 257]];
  for (const shape of shapes) {
    for (const reduction of reductionList) {
      for (const weighted of [false, true]) {
        it(`[${shape}] ${reduction} pos_weight=${weighted}`, async () => {
          const p = problem(shape[0]! * 7 + (shape[1] ?? 0), shape);
          const posWeight = weighted ? p.posWeight : undefined;
          const upstream = p.upstream(reduction);
          const got = await sigmoidBinaryCrossEntropyHost(gpu, p.logits, p.targets, { reduction, posWeight });
          expect(got.shape).toEqual(reduction === 'none' ? shape : [1]);
          const refOptions = { reduction, posWeight: posWeight?.data };
          expectClose(got.data, sigmoidBinaryCrossEntropyRef(p.logits.data, p.targets.data, p.classes, refOptions), lossTolerance, 'loss');
          const dx = await sigmoidBinaryCrossEntropyBackwardHost(gpu, upstream, p.logits, p.targets, { reduction, posWeight });
          expect(dx.shape).toEqual(shape);
          const want = sigmoidBinaryCrossEntropyBackwardRef(upstream.data, p.logits.data, p.targets.data, p.classes, refOptions);
          expectClose(dx.data, want, gradTolerance, 'dlogits');
        });
      }
    }
  }

  for (const scale of [80, 1e4]) {
    it(`extreme logits +-${scale} with 0/1 and fractional targets: finite and matching`, async () => {
      const shape = [4, 3];
      const logits = { data: Float32Array.from({ length: 12 }, (_, e) => (e % 3 === 0 ? scale : e % 3 === 1 ? -scale : 0.01 * scale)), shape };
      const targets = { data: Float32Array.from({ length: 12 }, (_, e) => [0, 1, 0.3][(e >> 1) % 3]!), shape };
      const posWeight = randomTensor(1, [3], 0.5, 3);
      for (const reduction of reductionList) {
        const got = await sigmoidBinaryCrossEntropyHost(gpu, logits, targets, { reduction, posWeight });
        expect(got.data.every(Number.isFinite)).toBe(true);
        expectClose(got.data, sigmoidBinaryCrossEntropyRef(logits.data, targets.data, 3, { reduction, posWeight: posWeight.data }), lossTolerance);
        const upstream = { data: new Float32Array(reduction === 'none' ? 12 : 1).fill(1), shape: reduction === 'none' ? shape : [1] };
        const dx = await sigmoidBinaryCrossEntropyBackwardHost(gpu, upstream, logits, targets, { reduction, posWeight });
        expect(dx.data.every(Number.isFinite)).toBe(true);
        const want = sigmoidBinaryCrossEntropyBackwardRef(upstream.data, logits.data, targets.data, 3, { reduction, posWeight: posWeight.data });
        expectClose(dx.data, want, gradTolerance);
      }
    });
  }

  it('keeps the small loss of a confident, correct logit (log1p, not log(1 + tiny))', async () => {
    const logits = { data: Float32Array.of(12, -12, 20), shape: [3] };
    const targets = { data: Float32Array.of(1, 0, 1), shape: [3] };
    const got = await sigmoidBinaryCrossEntropyHost(gpu, logits, targets, { reduction: 'none' });
    expect(got.data[2]).toBeGreaterThan(0); // log(1 + 2e-9) would round to 0 in f32
    expectClose(got.data, sigmoidBinaryCrossEntropyRef(logits.data, targets.data, 1, { reduction: 'none' }), { rtol: 1e-5, atol: 0 });
  });
});

describe('sigmoidBinaryCrossEntropy matches PyTorch', () => {
  const fixture = loadFixture('losses');
  for (const c of fixture.cases.filter((f) => f.attrs.op === 'sigmoidBinaryCrossEntropy')) {
    it(c.name, async () => {
      const options = { reduction: c.attrs.reduction as Reduction, posWeight: c.inputs.posWeight ? hostTensor(c.inputs.posWeight) : undefined };
      const logits = hostTensor(c.inputs.logits!);
      const targets = hostTensor(c.inputs.targets!);
      const got = await sigmoidBinaryCrossEntropyHost(gpu, logits, targets, options);
      expectClose(got.data, c.outputs.loss!.data, lossTolerance, 'loss');
      const dx = await sigmoidBinaryCrossEntropyBackwardHost(gpu, hostTensor(c.inputs.upstream!), logits, targets, options);
      expectClose(dx.data, c.outputs.dlogits!.data, gradTolerance, 'dlogits');
    });
  }
});

describe('sigmoidBinaryCrossEntropy arguments', () => {
  it('rejects wrong shapes, ranks and reductions before dispatch', () => {
    const x = gpu.allocate([4, 3]);
    const t = gpu.allocate([4, 2]);
    const t3 = gpu.allocate([4, 3]);
    const pw = gpu.allocate([2]);
    const upstream = gpu.allocate([4]);
    expect(() => sigmoidBinaryCrossEntropy(gpu, x, t)).toThrow(KernelArgumentError);
    expect(() => sigmoidBinaryCrossEntropy(gpu, x, t)).toThrow(/'targets' expected shape \[4, 3\]/);
    expect(() => sigmoidBinaryCrossEntropy(gpu, x, t3, { posWeight: pw })).toThrow(/'posWeight' expected shape \[3\]/);
    expect(() => sigmoidBinaryCrossEntropy(gpu, x, t3, { reduction: 'avg' as never })).toThrow(/'reduction' expected one of/);
    expect(() => sigmoidBinaryCrossEntropy(gpu, x.reshape([1, 2, 6]), t3.reshape([1, 2, 6]))).toThrow(/'logits' expected rank 1/);
    expect(() => sigmoidBinaryCrossEntropyBackward(gpu, upstream, x, t3)).toThrow(/'upstream' expected shape \[1\]/);
    expect(() => sigmoidBinaryCrossEntropyBackward(gpu, upstream, x, t3, { reduction: 'none' })).toThrow(/'upstream' expected shape \[4, 3\]/);
    gpu.release(x, t, t3, pw, upstream);
  });
});
