import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import {
  expectClose,
  finiteDifferenceTolerance,
  hostTensor,
  loadFixture,
  numericGradient,
  randomLabels,
  randomTensor,
  testGpu,
} from '../testing/index.js';
import {
  softmaxCrossEntropy,
  softmaxCrossEntropyBackward,
  softmaxCrossEntropyBackwardHost,
  softmaxCrossEntropyHost,
  softmaxHost,
  type Reduction,
} from './softmaxCrossEntropy.js';
import { softmaxCrossEntropyBackwardRef, softmaxCrossEntropyRef, softmaxRef } from './softmaxCrossEntropy.ref.js';
import { withWorkgroupLimit as withLimit } from '../testing/workgroupLimit.js';

// Loss: each row is a k-term f32 sum of exps plus a log, then a sum over n rows; at k = 1000 and
// n = 64 rounding is ~1e-6 relative. log(s) near s = 1 (confident rows) carries ~6e-8 absolute.
const lossTolerance = { rtol: 2e-5, atol: 1e-6 };
// Gradients: p = exp(x - m) / s is correct to a few ulps; C p - c cancels near p = target, so the
// error there is absolute (~1e-7 times the weights); scaled by g / normaliser <= 1 here.
const gradTolerance = { rtol: 1e-5, atol: 1e-6 };

const reductionList: Reduction[] = ['mean', 'sum', 'none'];

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

function problem(seed: number, n: number, k: number, scale = 3) {
  return {
    logits: randomTensor(seed, [n, k], -scale, scale),
    labels: randomLabels(seed + 1, n, k),
    weight: randomTensor(seed + 2, [k], 0.2, 2),
    upstream: (reduction: Reduction) => randomTensor(seed + 3, reduction === 'none' ? [n] : [1], 0.5, 1.5),
  };
}

const variants = [
  { label: 'plain', smoothing: 0, weighted: false },
  { label: 'smoothing 0.1', smoothing: 0.1, weighted: false },
  { label: 'weights', smoothing: 0, weighted: true },
  { label: 'smoothing 0.25 + weights', smoothing: 0.25, weighted: true },
];

describe('softmaxCrossEntropy reference', () => {
  for (const reduction of reductionList) {
    for (const v of variants) {
      it(`backward matches finite differences (${reduction}, ${v.label})`, () => {
        const [n, k] = [4, 5];
        const p = problem(3, n, k);
        const options = { reduction, labelSmoothing: v.smoothing, weight: v.weighted ? p.weight.data : undefined };
        const g = p.upstream(reduction).data;
        const analytic = softmaxCrossEntropyBackwardRef(g, p.logits.data, p.labels, n, k, options);
        const numeric = numericGradient((x) => softmaxCrossEntropyRef(x, p.labels, n, k, options), p.logits.data, g);
        expectClose(analytic, numeric, finiteDifferenceTolerance);
      });
    }
  }

  it('smoothing with uniform weights equals smoothing alone (weights only rescale)', () => {
    const p = problem(4, 3, 6);
    const twos = new Float64Array(6).fill(2);
    const plain = softmaxCrossEntropyRef(p.logits.data, p.labels, 3, 6, { labelSmoothing: 0.3 });
    const weighted = softmaxCrossEntropyRef(p.logits.data, p.labels, 3, 6, { labelSmoothing: 0.3, weight: twos });
    expectClose(weighted, plain, { rtol: 1e-12, atol: 0 }); // mean divides the factor 2 back out
  });
});

describe('softmaxCrossEntropy kernel vs reference', () => {
  const shapes: [n: number, k: number][] = [
    [1, 1],
    [1, 5],
    [3, 7], // k not a multiple of 4
    [17, 10], // n past one workgroup of 16 rows
    [64, 1000],
  ];
  for (const [n, k] of shapes) {
    for (const reduction of reductionList) {
      for (const v of variants) {
        it(`${n}x${k} ${reduction} ${v.label}`, async () => {
          const p = problem(n * 13 + k, n, k);
          const weight = v.weighted ? p.weight : undefined;
          const options = { reduction, labelSmoothing: v.smoothing };
          const upstream = p.upstream(reduction);
          const got = await softmaxCrossEntropyHost(gpu, p.logits, p.labels, { ...options, weight });
          const refOptions = { ...options, weight: weight?.data };
          expect(got.loss.shape).toEqual(reduction === 'none' ? [n] : [1]);
          expectClose(got.loss.data, softmaxCrossEntropyRef(p.logits.data, p.labels, n, k, refOptions), lossTolerance, 'loss');
          const dx = await softmaxCrossEntropyBackwardHost(gpu, upstream, p.logits, p.labels, { ...options, weight });
          expect(dx.shape).toEqual([n, k]);
          const want = softmaxCrossEntropyBackwardRef(upstream.data, p.logits.data, p.labels, n, k, refOptions);
          expectClose(dx.data, want, gradTolerance, 'dlogits');
        });
      }
    }
  }

  it('one class: loss 0 and gradient 0', async () => {
    const logits = { data: Float32Array.of(2.5), shape: [1, 1] };
    const got = await softmaxCrossEntropyHost(gpu, logits, [0], { labelSmoothing: 0.2 });
    expect(Array.from(got.loss.data)).toEqual([0]);
    const dx = await softmaxCrossEntropyBackwardHost(gpu, { data: Float32Array.of(1), shape: [1] }, logits, [0]);
    expect(Array.from(dx.data)).toEqual([0]);
  });

  for (const scale of [80, 1e4]) {
    it(`extreme logits +-${scale}: finite and matching the reference`, async () => {
      const [n, k] = [6, 9];
      const data = new Float32Array(n * k);
      for (let e = 0; e < data.length; e++) data[e] = (e * 7) % 3 === 0 ? scale : e % 2 ? -scale : 0.5 * scale;
      const logits = { data, shape: [n, k] };
      const labels = randomLabels(9, n, k);
      const weight = randomTensor(10, [k], 0.2, 2);
      for (const reduction of reductionList) {
        const options = { reduction, labelSmoothing: 0.1 };
        const got = await softmaxCrossEntropyHost(gpu, logits, labels, { ...options, weight });
        expect(got.loss.data.every(Number.isFinite)).toBe(true);
        expectClose(got.loss.data, softmaxCrossEntropyRef(data, labels, n, k, { ...options, weight: weight.data }), lossTolerance, 'loss');
        const upstream = { data: new Float32Array(reduction === 'none' ? n : 1).fill(1), shape: [reduction === 'none' ? n : 1] };
        const dx = await softmaxCrossEntropyBackwardHost(gpu, upstream, logits, labels, { ...options, weight });
        expect(dx.data.every(Number.isFinite)).toBe(true);
        expectClose(dx.data, softmaxCrossEntropyBackwardRef(upstream.data, data, labels, n, k, { ...options, weight: weight.data }), gradTolerance);
      }
    });
  }
});

const withWorkgroupLimit = <T>(limit: number, body: () => Promise<T>) => withLimit(gpu, limit, body);

describe('row-per-invocation kernels fold the row index over x and y', () => {
  // Real inputs reach 65,535 workgroups of 16 rows only past 1.05 M rows; under a limit of 3, 101 rows
  // (7 workgroups) fold into a [3, 3] grid whose last 43 invocations have no row and must exit.
  const [n, k] = [101, 5];

  it('softmaxCrossEntropy forward (and the backward from its residual) under a limit of 3', async () => {
    const p = problem(77, n, k);
    const options = { reduction: 'none' as const, labelSmoothing: 0.1, weight: p.weight };
    const refOptions = { ...options, weight: p.weight.data };
    const upstream = p.upstream('none');
    const [loss, dx] = await withWorkgroupLimit(3, async () => [
      await softmaxCrossEntropyHost(gpu, p.logits, p.labels, options),
      await softmaxCrossEntropyBackwardHost(gpu, upstream, p.logits, p.labels, options),
    ] as const);
    expectClose(loss!.loss.data, softmaxCrossEntropyRef(p.logits.data, p.labels, n, k, refOptions), lossTolerance, 'loss');
    expectClose(dx!.data, softmaxCrossEntropyBackwardRef(upstream.data, p.logits.data, p.labels, n, k, refOptions), gradTolerance, 'dlogits');
  });

  it('softmax under a limit of 3', async () => {
    const x = randomTensor(78, [n, k], -3, 3);
    const got = await withWorkgroupLimit(3, () => softmaxHost(gpu, x));
    expectClose(got.data, softmaxRef(x.data, n, k), { rtol: 1e-5, atol: 1e-7 });
  });
});

describe('softmax kernel', () => {
  for (const [n, k, scale] of [[1, 1, 1], [3, 7, 3], [40, 1000, 5], [5, 6, 1e4]] as const) {
    it(`${n}x${k} logits +-${scale} match the reference`, async () => {
      const x = randomTensor(n + k, [n, k], -scale, scale);
      const got = await softmaxHost(gpu, x);
      expect(got.shape).toEqual([n, k]);
      // Each probability is exp / sum with the sum correct to ~k ulps: absolute error well under 1e-6.
      expectClose(got.data, softmaxRef(x.data, n, k), { rtol: 1e-5, atol: 1e-7 });
    });
  }
});

describe('softmaxCrossEntropy matches PyTorch', () => {
  const fixture = loadFixture('losses');
  for (const c of fixture.cases.filter((f) => f.attrs.op === 'softmaxCrossEntropy')) {
    it(c.name, async () => {
      const logits = hostTensor(c.inputs.logits!);
      const labels = c.inputs.labels!.data;
      const options = {
        reduction: c.attrs.reduction as Reduction,
        labelSmoothing: c.attrs.labelSmoothing as number,
        weight: c.inputs.weight ? hostTensor(c.inputs.weight) : undefined,
      };
      const got = await softmaxCrossEntropyHost(gpu, logits, labels, options);
      expectClose(got.loss.data, c.outputs.loss!.data, lossTolerance, 'loss');
      const dx = await softmaxCrossEntropyBackwardHost(gpu, hostTensor(c.inputs.upstream!), logits, labels, options);
      expectClose(dx.data, c.outputs.dlogits!.data, gradTolerance, 'dlogits');
    });
  }
  it('pins PyTorch weight + smoothing semantics (not "w[label] times the smoothed loss")', () => {
    const c = fixture.cases.find((f) => f.name === 'ce 7x6 weighted smoothing 0.2 none')!;
    const [n, k] = c.inputs.logits!.shape as [number, number];
    const x = c.inputs.logits!.data;
    const labels = c.inputs.labels!.data;
    const w = c.inputs.weight!.data;
    const smoothed = softmaxCrossEntropyRef(x, labels, n, k, { reduction: 'none', labelSmoothing: 0.2 });
    const naive = Array.from(smoothed, (l, i) => l * w[labels[i]!]!);
    expect(() => expectClose(naive, c.outputs.loss!.data, lossTolerance)).toThrow(); // the golden tells them apart
    expectClose(softmaxCrossEntropyRef(x, labels, n, k, { reduction: 'none', labelSmoothing: 0.2, weight: w }), c.outputs.loss!.data, { rtol: 1e-6, atol: 1e-7 });
  });

  it('has every reduction with smoothing and weights together', () => {
    const names = fixture.cases.map((c) => c.name);
    for (const r of reductionList) expect(names).toContain(`ce 7x6 weighted smoothing 0.2 ${r}`);
  });
});

describe('softmaxCrossEntropy memory', () => {
  it('returns every intermediate buffer to the pool (forward + backward, weighted mean)', async () => {
    const p = problem(8, 9, 11);
    const run = () => softmaxCrossEntropyBackwardHost(gpu, p.upstream('mean'), p.logits, p.labels, { weight: p.weight, labelSmoothing: 0.1 });
    await run();
    const before = gpu.memory().bytesInUse;
    for (let i = 0; i < 3; i++) await run();
    expect(gpu.memory().bytesInUse).toBe(before);
  });
});

describe('softmaxCrossEntropy arguments', () => {
  it('labels out of range on the GPU give a NaN loss (documented; the launcher cannot see them)', async () => {
    const logits = gpu.upload(randomTensor(1, [3, 4]).data, [3, 4]);
    const labels = gpu.upload(Uint32Array.of(0, 4, 1), [3]);
    const none = softmaxCrossEntropy(gpu, logits, labels, { reduction: 'none' });
    const losses = await gpu.read(none.loss);
    expect(Number.isNaN(losses[1])).toBe(true);
    expect(Number.isFinite(losses[0]) && Number.isFinite(losses[2])).toBe(true);
    const mean = softmaxCrossEntropy(gpu, logits, labels);
    expect(Number.isNaN((await gpu.read(mean.loss))[0])).toBe(true);
    gpu.release(logits, labels, none.loss, none.residual, mean.loss, mean.residual);
  });

  it('the host variant names the bad sample', async () => {
    const logits = randomTensor(1, [3, 4]);
    await expect(softmaxCrossEntropyHost(gpu, logits, [0, 1, 4])).rejects.toThrow(KernelArgumentError);
    await expect(softmaxCrossEntropyHost(gpu, logits, [0, 1, 4])).rejects.toThrow(/labels\[2\]' expected an integer class index in \[0, 4\), found 4/);
    await expect(softmaxCrossEntropyHost(gpu, logits, [0, 1.5, 2])).rejects.toThrow(/labels\[1\]/);
    await expect(softmaxCrossEntropyHost(gpu, logits, [0, 1])).rejects.toThrow(/'labels' expected 3 labels/);
    await expect(softmaxCrossEntropyBackwardHost(gpu, { data: Float32Array.of(1), shape: [1] }, logits, [-1, 0, 0])).rejects.toThrow(/labels\[0\]/);
  });

  it('rejects wrong shapes, dtypes, smoothing and reduction before dispatch', () => {
    const logits = gpu.allocate([3, 4]);
    const labels = gpu.allocate([3], 'u32');
    const shortLabels = gpu.allocate([2], 'u32');
    const floatLabels = gpu.allocate([3]);
    const weight5 = gpu.allocate([5]);
    const run = (options: object, l = labels) => () => softmaxCrossEntropy(gpu, logits, l, options);
    expect(run({}, shortLabels)).toThrow(/'labels' expected shape \[3\]/);
    expect(run({}, floatLabels)).toThrow(/'labels' expected dtype u32/);
    expect(run({ weight: weight5 })).toThrow(/'weight' expected shape \[4\]/);
    for (const s of [-0.1, 1, 1.5, NaN]) expect(run({ labelSmoothing: s })).toThrow(KernelArgumentError);
    expect(run({ labelSmoothing: 1 })).toThrow(/'labelSmoothing' expected a number in \[0, 1\)/);
    expect(run({ reduction: 'avg' })).toThrow(/'reduction' expected one of/);
    expect(() => softmaxCrossEntropy(gpu, logits.reshape([12]), labels)).toThrow(/'logits' expected rank 2/);
    const saved = (reduction: Reduction) => ({ residual: logits, reduction });
    expect(() => softmaxCrossEntropyBackward(gpu, labels.reshape([3]), saved('mean'))).toThrow(/'upstream' expected shape \[1\]/);
    expect(() => softmaxCrossEntropyBackward(gpu, gpu.placeholder(), saved('none'))).toThrow(/'upstream' expected shape \[3\]/);
    gpu.release(logits, labels, shortLabels, floatLabels, weight5);
  });
});
