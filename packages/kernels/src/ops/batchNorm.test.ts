import { beforeAll, describe, expect, it } from 'vitest';
import { KernelArgumentError } from '../runtime/errors.js';
import type { Gpu } from '../runtime/gpu.js';
import type { Activation } from '../runtime/validate.js';
import { expectClose, finiteDifferenceTolerance, hostTensor, loadFixture, numericGradient, randomTensor, testGpu } from '../testing/index.js';
import {
  batchNormApply,
  batchNormBackward,
  batchNormBackwardHost,
  batchNormInference,
  batchNormInferenceHost,
  batchNormScaleShift,
  batchNormStatisticsHost,
  batchNormTraining,
  batchNormTrainingHost,
  kerasMomentum,
} from './batchNorm.js';
import { withWorkgroupLimit as withLimit } from '../testing/workgroupLimit.js';
import { foldBatchNormIntoConv } from './batchNormFold.js';
import {
  batchNormApplyRef,
  batchNormBackwardRef,
  batchNormRunningUpdateRef,
  batchNormStatsRef,
  batchNormTrainingRef,
  convValidRef,
  depthwiseValidRef,
} from './batchNorm.ref.js';

// Statistics are f32 sums of at most a few thousand values in [-1, 1] (pairwise-ish: 128-row chunks,
// then sums of chunk sums), so ~1e-6 relative; y = xhat * gamma + beta with |xhat| up to ~3 inherits
// that error times 3 plus the rounding of invstd.
const statsTolerance = { rtol: 2e-5, atol: 2e-6 };
const forwardTolerance = { rtol: 1e-4, atol: 2e-5 };
// dx subtracts sum_dy / N and xhat * sum_dy_xhat / N from dy: cancellation loses a few more bits than the forward.
const backwardTolerance = { rtol: 2e-4, atol: 5e-5 };

// 16 and 12 take the vec4 kernels (12: 3 vec4 per pixel, so invocations straddle pixels and the grid has a ragged tail).
const channelCounts = [1, 3, 5, 7, 12, 16];
// [n, h, w]: odd spatial sizes, batch 1, and one with several 128-row chunks (3 * 9 * 11 = 297 rows).
const spatial: [number, number, number][] = [
  [2, 3, 5],
  [1, 7, 3],
  [3, 9, 11],
];

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

function problem(seed: number, n: number, h: number, w: number, c: number) {
  return {
    x: randomTensor(seed, [n, h, w, c], -2, 2),
    gamma: randomTensor(seed + 1, [c], 0.5, 1.5),
    beta: randomTensor(seed + 2, [c]),
    runningMean: randomTensor(seed + 3, [c], -0.5, 0.5),
    runningVar: randomTensor(seed + 4, [c], 0.5, 2),
    dy: randomTensor(seed + 5, [n, h, w, c]),
  };
}

const withWorkgroupLimit = <T>(limit: number, body: () => Promise<T>) => withLimit(gpu, limit, body);

describe('batchNorm reductions fold the chunk index over y and z', () => {
  // Real tensors reach 65,535 chunks of 128 rows only past N*H*W = 8.4 M per channel; under a limit of
  // 4 workgroups per dimension, 2*20*21 = 840 rows (7 chunks) fold into a [4, 2] grid with 1 surplus chunk
  // (and the elementwise passes, 14 workgroups of vec4s at c = 4, still fit the lowered 4 x 4 grid).
  const [n, h, w, c] = [2, 20, 21, 4];
  const d = { count: n * h * w, c };

  it('squared deviations (batch statistics) under a limit of 4', async () => {
    const { x } = problem(41, n, h, w, c);
    const got = await withWorkgroupLimit(4, () => batchNormStatisticsHost(gpu, x));
    const want = batchNormStatsRef(x.data, d);
    expectClose(got.mean.data, want.mean, statsTolerance, 'mean');
    expectClose(got.variance.data, want.variance, statsTolerance, 'variance');
  });

  it('backward reduce (dgamma, dbeta, and dx through them) under a limit of 4', async () => {
    const p = problem(43, n, h, w, c);
    const stats = batchNormStatsRef(p.x.data, d);
    const mean = { data: Float32Array.from(stats.mean), shape: [c] };
    const invstd = { data: Float32Array.from(stats.variance, (v) => 1 / Math.sqrt(v + 1e-5)), shape: [c] };
    const got = await withWorkgroupLimit(4, () => batchNormBackwardHost(gpu, p.dy, p.x, { mean, invstd, gamma: p.gamma }, true));
    const want = batchNormBackwardRef(p.dy.data, p.x.data, mean.data, invstd.data, p.gamma.data, d, true);
    expectClose(got.dx!.data, want.dx, backwardTolerance, 'dx');
    expectClose(got.dgamma!.data, want.dgamma, backwardTolerance, 'dgamma');
    expectClose(got.dbeta!.data, want.dbeta, backwardTolerance, 'dbeta');
  });
});

describe('batchNorm statistics', () => {
  for (const c of channelCounts) {
    for (const [n, h, w] of spatial) {
      it(`mean and biased variance [${n}, ${h}, ${w}, ${c}]`, async () => {
        const { x } = problem(c * 100 + n * h * w, n, h, w, c);
        const got = await batchNormStatisticsHost(gpu, x);
        const want = batchNormStatsRef(x.data, { count: n * h * w, c });
        expect(got.mean.shape).toEqual([c]);
        expectClose(got.mean.data, want.mean, statsTolerance, 'mean');
        expectClose(got.variance.data, want.variance, statsTolerance, 'variance');
      });
    }
  }

  it('many rows: the reductions take more than one sumRows pass (16900 rows)', async () => {
    const x = randomTensor(7, [1, 130, 130, 2], 0, 1);
    const got = await batchNormStatisticsHost(gpu, x);
    const want = batchNormStatsRef(x.data, { count: 130 * 130, c: 2 });
    expectClose(got.mean.data, want.mean, statsTolerance, 'mean');
    expectClose(got.variance.data, want.variance, statsTolerance, 'variance');
  });

  it('keeps the variance when |mean| >> std (two passes, not E[x^2] - E[x]^2)', async () => {
    // Values 1000 + U(-0.1, 0.1): variance ~3.3e-3. In f32, E[x^2] ~ 1e6 has a spacing of 0.0625,
    // twenty times the variance, so the one-pass formula would return noise; two passes are exact to f32 rounding.
    const x = randomTensor(8, [4, 5, 5, 3], 999.9, 1000.1);
    const got = await batchNormStatisticsHost(gpu, x);
    const want = batchNormStatsRef(x.data, { count: 100, c: 3 });
    expectClose(got.variance.data, want.variance, { rtol: 1e-3, atol: 0 }, 'variance');
  });
});

describe('batchNorm training forward vs reference', () => {
  const variants: { eps: number; activation: Activation }[] = [
    { eps: 1e-5, activation: 'none' },
    { eps: 1e-3, activation: 'relu' },
    { eps: 1e-5, activation: 'relu6' },
  ];
  for (const c of channelCounts) {
    for (const [index, [n, h, w]] of spatial.entries()) {
      const { eps, activation } = variants[index]!;
      it(`[${n}, ${h}, ${w}, ${c}] eps=${eps} ${activation}`, async () => {
        const p = problem(c * 31 + index, n, h, w, c);
        // Scaled so relu6 both clips at 6 and zeroes negatives.
        const gamma = { data: p.gamma.data.map((v) => v * 4), shape: p.gamma.shape };
        const dims = { count: n * h * w, c };
        const got = await batchNormTrainingHost(gpu, p.x, { gamma, beta: p.beta, runningMean: p.runningMean, runningVar: p.runningVar }, { eps, activation });
        const stats = batchNormStatsRef(p.x.data, dims);
        const want = batchNormApplyRef(p.x.data, stats.mean, stats.variance, gamma.data, p.beta.data, eps, dims, activation);
        const running = batchNormRunningUpdateRef(p.runningMean.data, p.runningVar.data, stats.mean, stats.variance, dims.count, 0.1);
        expect(got.y.shape).toEqual([n, h, w, c]);
        expectClose(got.y.data, want, forwardTolerance, 'y');
        expectClose(got.mean.data, stats.mean, statsTolerance, 'mean');
        expectClose(got.invstd.data, stats.variance.map((v) => 1 / Math.sqrt(v + eps)), forwardTolerance, 'invstd');
        expectClose(got.runningMean!.data, running.runningMean, statsTolerance, 'runningMean');
        expectClose(got.runningVar!.data, running.runningVar, statsTolerance, 'runningVar');
      });
    }
  }

  it('fused relu6 output really clips at both ends', () => {
    const dims = { count: 6, c: 1 };
    const y = batchNormTrainingRef([-3, -1, 0, 1, 2, 3], [8], [0], 1e-5, dims, 'relu6');
    expect(y.some((v) => v === 0) && y.some((v) => v === 6)).toBe(true);
  });

  it('without gamma, beta or running statistics', async () => {
    const { x } = problem(3, 2, 3, 3, 5);
    const dims = { count: 18, c: 5 };
    const got = await batchNormTrainingHost(gpu, x);
    expect(got.runningMean).toBeUndefined();
    expectClose(got.y.data, batchNormTrainingRef(x.data, undefined, undefined, 1e-5, dims), forwardTolerance, 'y');
  });

  it("Keras convention: momentum 0.99 (= PyTorch 0.01) and the biased variance into runningVar", async () => {
    const p = problem(4, 2, 3, 1, 3);
    const dims = { count: 6, c: 3 };
    const got = await batchNormTrainingHost(gpu, p.x, { runningMean: p.runningMean, runningVar: p.runningVar }, { eps: 1e-3, ...kerasMomentum(0.99) });
    const stats = batchNormStatsRef(p.x.data, dims);
    const want = batchNormRunningUpdateRef(p.runningMean.data, p.runningVar.data, stats.mean, stats.variance, 6, 0.01, false);
    expectClose(got.runningMean!.data, want.runningMean, statsTolerance, 'runningMean');
    expectClose(got.runningVar!.data, want.runningVar, statsTolerance, 'runningVar');
  });

  it('updates the running buffers in place on the GPU, step after step', async () => {
    const p = problem(5, 2, 2, 2, 4);
    const runningMean = gpu.upload(p.runningMean.data, [4]);
    const runningVar = gpu.upload(p.runningVar.data, [4]);
    const x = gpu.upload(p.x.data, p.x.shape);
    let wantMean: ArrayLike<number> = p.runningMean.data;
    let wantVar: ArrayLike<number> = p.runningVar.data;
    const stats = batchNormStatsRef(p.x.data, { count: 8, c: 4 });
    for (let step = 0; step < 3; step++) {
      const out = batchNormTraining(gpu, x, { runningMean, runningVar });
      gpu.release(out.y, out.mean, out.invstd);
      ({ runningMean: wantMean, runningVar: wantVar } = batchNormRunningUpdateRef(wantMean, wantVar, stats.mean, stats.variance, 8, 0.1));
    }
    expectClose(await gpu.read(runningMean), wantMean, statsTolerance, 'runningMean');
    expectClose(await gpu.read(runningVar), wantVar, statsTolerance, 'runningVar');
    gpu.release(runningMean, runningVar, x);
  });
});

describe('batchNorm inference forward vs reference', () => {
  for (const c of channelCounts) {
    for (const [n, h, w, eps, activation] of [
      [1, 1, 1, 1e-3, 'none'],
      [2, 3, 5, 1e-5, 'relu'],
      [3, 9, 11, 1e-5, 'relu6'],
    ] as const) {
      it(`[${n}, ${h}, ${w}, ${c}] eps=${eps} ${activation}`, async () => {
        const p = problem(c * 7 + n, n, h, w, c);
        const gamma = { data: p.gamma.data.map((v) => v * 4), shape: p.gamma.shape };
        const got = await batchNormInferenceHost(gpu, p.x, { gamma, beta: p.beta, runningMean: p.runningMean, runningVar: p.runningVar }, { eps, activation });
        const want = batchNormApplyRef(p.x.data, p.runningMean.data, p.runningVar.data, gamma.data, p.beta.data, eps, { count: n * h * w, c }, activation);
        expectClose(got.y.data, want, forwardTolerance, 'y');
        expectClose(got.invstd.data, p.runningVar.data.map((v) => 1 / Math.sqrt(v + eps)), forwardTolerance, 'invstd');
      });
    }
  }

  it('a cached scale/shift applied by batchNormApply alone gives the same result', async () => {
    const p = problem(9, 2, 3, 3, 6);
    const t = {
      x: gpu.upload(p.x.data, p.x.shape),
      gamma: gpu.upload(p.gamma.data, [6]),
      beta: gpu.upload(p.beta.data, [6]),
      runningMean: gpu.upload(p.runningMean.data, [6]),
      runningVar: gpu.upload(p.runningVar.data, [6]),
    };
    const { scaleShift, invstd } = batchNormScaleShift(gpu, t);
    const y = batchNormApply(gpu, t.x, scaleShift, 'relu');
    const want = batchNormApplyRef(p.x.data, p.runningMean.data, p.runningVar.data, p.gamma.data, p.beta.data, 1e-5, { count: 18, c: 6 }, 'relu');
    expectClose(await gpu.read(y), want, forwardTolerance, 'y');
    gpu.release(y, scaleShift, invstd, ...Object.values(t));
  });
});

describe('batchNorm backward', () => {
  const n = 2;
  const [h, w, c] = [3, 1, 3];
  const dims = { count: n * h * w, c };

  it('training-mode reference gradients match finite differences (through the batch statistics)', () => {
    const p = problem(21, n, h, w, c);
    const eps = 1e-3;
    const stats = batchNormStatsRef(p.x.data, dims);
    const invstd = stats.variance.map((v) => 1 / Math.sqrt(v + eps));
    const analytic = batchNormBackwardRef(p.dy.data, p.x.data, stats.mean, invstd, p.gamma.data, dims, true);
    const dx = numericGradient((x) => batchNormTrainingRef(x, p.gamma.data, p.beta.data, eps, dims), p.x.data, p.dy.data);
    const dgamma = numericGradient((g) => batchNormTrainingRef(p.x.data, g, p.beta.data, eps, dims), p.gamma.data, p.dy.data);
    const dbeta = numericGradient((b) => batchNormTrainingRef(p.x.data, p.gamma.data, b, eps, dims), p.beta.data, p.dy.data);
    expectClose(analytic.dx, dx, finiteDifferenceTolerance, 'dx');
    expectClose(analytic.dgamma, dgamma, finiteDifferenceTolerance, 'dgamma');
    expectClose(analytic.dbeta, dbeta, finiteDifferenceTolerance, 'dbeta');
  });

  it('frozen-statistics reference gradients match finite differences', () => {
    const p = problem(22, n, h, w, c);
    const eps = 1e-5;
    const invstd = p.runningVar.data.map((v) => 1 / Math.sqrt(v + eps));
    const rm = p.runningMean.data;
    const rv = p.runningVar.data;
    const analytic = batchNormBackwardRef(p.dy.data, p.x.data, rm, invstd, p.gamma.data, dims, false);
    const dx = numericGradient((x) => batchNormApplyRef(x, rm, rv, p.gamma.data, p.beta.data, eps, dims), p.x.data, p.dy.data);
    const dgamma = numericGradient((g) => batchNormApplyRef(p.x.data, rm, rv, g, p.beta.data, eps, dims), p.gamma.data, p.dy.data);
    const dbeta = numericGradient((b) => batchNormApplyRef(p.x.data, rm, rv, p.gamma.data, b, eps, dims), p.beta.data, p.dy.data);
    expectClose(analytic.dx, dx, finiteDifferenceTolerance, 'dx');
    expectClose(analytic.dgamma, dgamma, finiteDifferenceTolerance, 'dgamma');
    expectClose(analytic.dbeta, dbeta, finiteDifferenceTolerance, 'dbeta');
  });

  for (const batchStatistics of [true, false]) {
    for (const ch of channelCounts) {
      for (const [bn, bh, bw] of [spatial[0]!, spatial[2]!]) {
        it(`kernel vs reference batchStatistics=${batchStatistics} [${bn}, ${bh}, ${bw}, ${ch}]`, async () => {
          const p = problem(ch * 13 + bh, bn, bh, bw, ch);
          const d = { count: bn * bh * bw, c: ch };
          const stats = batchStatistics ? batchNormStatsRef(p.x.data, d) : { mean: p.runningMean.data, variance: p.runningVar.data };
          const mean = { data: Float32Array.from(stats.mean), shape: [ch] };
          const invstd = { data: Float32Array.from(stats.variance, (v) => 1 / Math.sqrt(v + 1e-5)), shape: [ch] };
          const got = await batchNormBackwardHost(gpu, p.dy, p.x, { mean, invstd, gamma: p.gamma }, batchStatistics);
          const want = batchNormBackwardRef(p.dy.data, p.x.data, mean.data, invstd.data, p.gamma.data, d, batchStatistics);
          expectClose(got.dx!.data, want.dx, backwardTolerance, 'dx');
          // dgamma and dbeta are sums over N*H*W of terms up to ~2 in size: f32 sum error grows with the count.
          expectClose(got.dgamma!.data, want.dgamma, backwardTolerance, 'dgamma');
          expectClose(got.dbeta!.data, want.dbeta, backwardTolerance, 'dbeta');
        });
      }
    }
  }

  for (const ch of [5, 8]) {
    it(`computes only the requested gradients (no gamma: gamma = 1), c = ${ch}`, async () => {
      const p = problem(31, 2, 3, 3, ch);
      const d = { count: 18, c: ch };
      const mean = { data: p.runningMean.data, shape: [ch] };
      const invstd = { data: p.runningVar.data.map((v) => 1 / Math.sqrt(v + 1e-5)), shape: [ch] };
      const onlyDx = await batchNormBackwardHost(gpu, p.dy, p.x, { mean, invstd }, false, { x: true });
      expect(onlyDx.dgamma).toBeUndefined();
      expect(onlyDx.dbeta).toBeUndefined();
      const want = batchNormBackwardRef(p.dy.data, p.x.data, mean.data, invstd.data, undefined, d, false);
      expectClose(onlyDx.dx!.data, want.dx, backwardTolerance, 'dx');
      const onlyDbeta = await batchNormBackwardHost(gpu, p.dy, p.x, { mean, invstd }, true, { beta: true });
      expect(onlyDbeta.dx).toBeUndefined();
      expect(onlyDbeta.dgamma).toBeUndefined();
      expectClose(onlyDbeta.dbeta!.data, want.dbeta, backwardTolerance, 'dbeta');
    });
  }
});

describe('batchNorm PyTorch goldens (torch.nn.functional.batch_norm, autograd in float64)', () => {
  const fixture = loadFixture('batchNorm');
  for (const testCase of fixture.cases) {
    it(testCase.name, async () => {
      const attrs = testCase.attrs as { eps: number; momentum: number; training: boolean; activation: Activation };
      const input = Object.fromEntries(Object.entries(testCase.inputs).map(([k, v]) => [k, hostTensor(v)]));
      const out = testCase.outputs;
      const params = { gamma: input.gamma, beta: input.beta, runningMean: input.runningMean, runningVar: input.runningVar };
      const options = { eps: attrs.eps, activation: attrs.activation };
      let mean: Float32Array;
      let invstd: Float32Array;
      if (attrs.training) {
        const got = await batchNormTrainingHost(gpu, input.x!, params, { ...options, momentum: attrs.momentum });
        expectClose(got.y.data, out.y!.data, forwardTolerance, 'y');
        expectClose(got.mean.data, out.mean!.data, statsTolerance, 'mean');
        expectClose(got.invstd.data, out.invstd!.data, forwardTolerance, 'invstd');
        expectClose(got.runningMean!.data, out.runningMean!.data, statsTolerance, 'runningMean');
        expectClose(got.runningVar!.data, out.runningVar!.data, statsTolerance, 'runningVar');
        ({ mean, invstd } = { mean: got.mean.data, invstd: got.invstd.data });
      } else {
        const got = await batchNormInferenceHost(gpu, input.x!, params, options);
        expectClose(got.y.data, out.y!.data, forwardTolerance, 'y');
        expectClose(got.invstd.data, out.invstd!.data, forwardTolerance, 'invstd');
        ({ mean, invstd } = { mean: input.runningMean!.data, invstd: got.invstd.data });
      }
      if (out.dx) {
        const c = mean.length;
        const grads = await batchNormBackwardHost(
          gpu,
          input.dy!,
          input.x!,
          { mean: { data: mean, shape: [c] }, invstd: { data: invstd, shape: [c] }, gamma: input.gamma },
          attrs.training,
        );
        expectClose(grads.dx!.data, out.dx.data, backwardTolerance, 'dx');
        expectClose(grads.dgamma!.data, out.dgamma!.data, backwardTolerance, 'dgamma');
        expectClose(grads.dbeta!.data, out.dbeta!.data, backwardTolerance, 'dbeta');
      }
    });
  }
});

describe('folding a frozen batch norm into the preceding convolution', () => {
  // The folded weights are rounded to f32 once; conv sums of <= 36 products then differ at ~1e-6.
  const foldTolerance = { rtol: 1e-5, atol: 1e-5 };

  for (const withBias of [true, false]) {
    it(`HWIO conv ${withBias ? 'with' : 'without'} bias: conv-then-BN equals the folded conv`, () => {
      const dims = { n: 2, h: 5, w: 4, c_in: 3, c_out: 5, k_h: 3, k_w: 2 };
      const x = randomTensor(41, [2, 5, 4, 3]);
      const weights = randomTensor(42, [3, 2, 3, 5]);
      const bias = withBias ? randomTensor(43, [5]) : undefined;
      const p = problem(44, 1, 1, 1, 5);
      const eps = 1e-3;
      const conv = convValidRef(x.data, weights.data, bias?.data, dims);
      const count = conv.length / 5;
      const want = batchNormApplyRef(conv, p.runningMean.data, p.runningVar.data, p.gamma.data, p.beta.data, eps, { count, c: 5 });
      const folded = foldBatchNormIntoConv(weights, bias, { gamma: p.gamma.data, beta: p.beta.data, runningMean: p.runningMean.data, runningVar: p.runningVar.data, eps });
      expect(folded.weights.shape).toEqual([3, 2, 3, 5]);
      expectClose(convValidRef(x.data, folded.weights.data, folded.bias.data, dims), want, foldTolerance, 'folded conv');
      // And the formula itself, per output channel.
      const scale = p.gamma.data.map((g, o) => g / Math.sqrt(p.runningVar.data[o]! + eps));
      expectClose(folded.bias.data, scale.map((s, o) => ((bias?.data[o] ?? 0) - p.runningMean.data[o]!) * s + p.beta.data[o]!), foldTolerance, "b'");
      expectClose(folded.weights.data, weights.data.map((v, i) => v * scale[i % 5]!), foldTolerance, "W'");
    });
  }

  it('depthwise [k_h, k_w, c]: conv-then-BN equals the folded conv', () => {
    const dims = { n: 1, h: 4, w: 5, c: 7, k_h: 3, k_w: 3 };
    const x = randomTensor(51, [1, 4, 5, 7]);
    const weights = randomTensor(52, [3, 3, 7]);
    const bias = randomTensor(53, [7]);
    const p = problem(54, 1, 1, 1, 7);
    const conv = depthwiseValidRef(x.data, weights.data, bias.data, dims);
    const want = batchNormApplyRef(conv, p.runningMean.data, p.runningVar.data, p.gamma.data, p.beta.data, 1e-5, { count: conv.length / 7, c: 7 });
    const folded = foldBatchNormIntoConv(weights, bias, { gamma: p.gamma.data, beta: p.beta.data, runningMean: p.runningMean.data, runningVar: p.runningVar.data });
    expectClose(depthwiseValidRef(x.data, folded.weights.data, folded.bias.data, dims), want, foldTolerance, 'folded depthwise');
  });

  it('rejects statistics that do not match the last weight axis', () => {
    const weights = randomTensor(1, [3, 3, 4, 8]);
    const rm = new Float32Array(4);
    const rv = new Float32Array(8).fill(1);
    expect(() => foldBatchNormIntoConv(weights, undefined, { runningMean: rm, runningVar: rv })).toThrow(KernelArgumentError);
    expect(() => foldBatchNormIntoConv(weights, undefined, { runningMean: rm, runningVar: rv })).toThrow(/argument 'runningMean' expected 8 values/);
    expect(() => foldBatchNormIntoConv(randomTensor(1, [8]), undefined, { runningMean: rv, runningVar: rv })).toThrow(/argument 'weights' expected rank 4/);
  });
});

describe('batchNorm rejects bad arguments before dispatch', () => {
  it('training with one value per channel (PyTorch raises too)', () => {
    const x = gpu.allocate([1, 1, 1, 5]);
    expect(() => batchNormTraining(gpu, x)).toThrow(KernelArgumentError);
    expect(() => batchNormTraining(gpu, x)).toThrow(/batchNormTraining: argument 'x' expected more than one value per channel/);
    gpu.release(x);
  });

  it('wrong ranks, lengths and options', () => {
    const x = gpu.allocate([2, 3, 3, 4]);
    const x3 = gpu.allocate([2, 3, 4]);
    const v4 = gpu.allocate([4]);
    const v5 = gpu.allocate([5]);
    expect(() => batchNormTraining(gpu, x3)).toThrow(/argument 'x' expected rank 4 \(NHWC\)/);
    expect(() => batchNormTraining(gpu, x, { gamma: v5 })).toThrow(/argument 'gamma' expected shape \[4\]/);
    expect(() => batchNormTraining(gpu, x, { runningMean: v4 })).toThrow(/argument 'runningVar'/);
    expect(() => batchNormTraining(gpu, x, {}, { momentum: 1.5 })).toThrow(/argument 'momentum'/);
    expect(() => batchNormTraining(gpu, x, {}, { eps: Number.NaN })).toThrow(/argument 'eps'/);
    expect(() => batchNormTraining(gpu, x, {}, { activation: 'gelu' as never })).toThrow(/argument 'activation'/);
    expect(() => batchNormInference(gpu, x, { runningMean: v4 })).toThrow(/argument 'runningVar' expected a \[C\] tensor/);
    expect(() => batchNormInference(gpu, x, { runningMean: v5, runningVar: v5 })).toThrow(/argument 'runningMean' expected shape \[4\]/);
    expect(() => batchNormBackward(gpu, x3, x, { mean: v4, invstd: v4 }, true)).toThrow(/argument 'dy' expected shape \[2, 3, 3, 4\]/);
    expect(() => batchNormBackward(gpu, x, x, { mean: v4, invstd: v5 }, true)).toThrow(/argument 'invstd' expected shape \[4\]/);
    expect(() => batchNormApply(gpu, x, v4)).toThrow(/argument 'scaleShift' expected shape \[2, 4\]/);
    gpu.release(x, x3, v4, v5);
  });
});
