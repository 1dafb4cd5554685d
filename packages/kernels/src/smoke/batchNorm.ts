/**
 * Smoke cases: batch norm over NHWC (statistics, training forward with the running-statistics update,
 * inference, backward with batch and with frozen statistics) and folding a frozen batch norm into the
 * convolution before it. x has a mean far from 0, so a one-pass variance would show.
 */
import { foldBatchNormIntoConv } from '../ops/batchNormFold.js';
import {
  batchNormBackwardHost,
  batchNormDefaults,
  batchNormInferenceHost,
  batchNormStatisticsHost,
  batchNormTrainingHost,
} from '../ops/batchNorm.js';
import { batchNormApplyRef, batchNormBackwardRef, batchNormRunningUpdateRef, batchNormStatsRef } from '../ops/batchNorm.ref.js';
import { conv2dHost } from '../ops/conv2d.js';
import { conv2dRef } from '../ops/conv2d.ref.js';
import { randomTensor } from '../testing/random.js';
import { f32, type SmokeCase } from './case.js';

/** x [2, 5, 3, 7]: 30 values per channel, 7 channels (not a multiple of 4), mean ~ 20. */
const shape = [2, 5, 3, 7] as const;
const dims = { count: 2 * 5 * 3, c: 7 };
const eps = batchNormDefaults.eps;
const x = () => randomTensor(31, shape, 19, 21);
const gamma = () => randomTensor(32, [dims.c], 0.5, 1.5);
const beta = () => randomTensor(33, [dims.c]);
const runningMean = () => randomTensor(34, [dims.c], 19, 21);
const runningVar = () => randomTensor(35, [dims.c], 0.2, 0.5);

const invstdOf = (variance: ArrayLike<number>) => Float64Array.from(variance, (v) => 1 / Math.sqrt(v + eps));

export const batchNormCases: SmokeCase[] = [
  {
    kernel: 'batchNormStatistics',
    shape: '[2, 5, 3, 7] (mean ~ 20) -> mean, variance [7]',
    // 30-term f32 sums of values ~20, two passes: mean rounding ~1e-6, variance (~0.33) ~1e-6.
    tolerance: 1e-5,
    async run(gpu) {
      const input = x();
      const got = await batchNormStatisticsHost(gpu, input);
      const want = batchNormStatsRef(input.data, dims);
      return [
        { got: got.mean.data, want: want.mean },
        { got: got.variance.data, want: want.variance },
      ];
    },
  },
  {
    kernel: 'batchNormTraining',
    shape: '[2, 5, 3, 7], gamma, beta, relu; running update',
    // y = gamma * xhat + beta with |xhat| <= ~2: f32 rounding of the statistics of values ~20 moves it ~1e-5.
    tolerance: 1e-4,
    async run(gpu) {
      const [input, g, b, rm, rv] = [x(), gamma(), beta(), runningMean(), runningVar()];
      const got = await batchNormTrainingHost(gpu, input, { gamma: g, beta: b, runningMean: rm, runningVar: rv }, { momentum: 0.1, activation: 'relu' });
      const stats = batchNormStatsRef(input.data, dims);
      const running = batchNormRunningUpdateRef(rm.data, rv.data, stats.mean, stats.variance, dims.count, 0.1);
      return [
        { got: got.y.data, want: batchNormApplyRef(input.data, stats.mean, stats.variance, g.data, b.data, eps, dims, 'relu') },
        { got: got.mean.data, want: stats.mean },
        { got: got.invstd.data, want: invstdOf(stats.variance) },
        { got: got.runningMean!.data, want: running.runningMean },
        { got: got.runningVar!.data, want: running.runningVar },
      ];
    },
  },
  {
    kernel: 'batchNormInference',
    shape: '[2, 5, 3, 7], running statistics, relu6',
    // One fused multiply-add per element on values ~20 scaled by invstd <= ~2.3: f32 rounding ~1e-5.
    tolerance: 1e-4,
    async run(gpu) {
      const [input, g, b, rm, rv] = [x(), gamma(), beta(), runningMean(), runningVar()];
      const got = await batchNormInferenceHost(gpu, input, { gamma: g, beta: b, runningMean: rm, runningVar: rv }, { activation: 'relu6' });
      return [
        { got: got.y.data, want: batchNormApplyRef(input.data, rm.data, rv.data, g.data, b.data, eps, dims, 'relu6') },
        { got: got.invstd.data, want: invstdOf(rv.data) },
      ];
    },
  },
  ...[true, false].map(
    (batchStatistics): SmokeCase => ({
      kernel: 'batchNormBackward',
      shape: `dx, dgamma, dbeta of [2, 5, 3, 7], ${batchStatistics ? 'batch' : 'frozen'} statistics`,
      // 30-term sums of dy * xhat (|xhat| <= ~2) and dx's correction terms: f32 rounding ~1e-5.
      tolerance: 1e-4,
      async run(gpu) {
        const [input, g, dy] = [x(), gamma(), randomTensor(36, shape)];
        const stats = batchStatistics ? batchNormStatsRef(input.data, dims) : { mean: runningMean().data, variance: runningVar().data };
        const saved = { mean: f32(stats.mean, [dims.c]), invstd: f32(invstdOf(stats.variance), [dims.c]), gamma: g };
        const got = await batchNormBackwardHost(gpu, dy, input, saved, batchStatistics);
        const want = batchNormBackwardRef(dy.data, input.data, saved.mean.data, saved.invstd.data, g.data, dims, batchStatistics);
        return [
          { got: got.dx!.data, want: want.dx },
          { got: got.dgamma!.data, want: want.dgamma },
          { got: got.dbeta!.data, want: want.dbeta },
        ];
      },
    }),
  ),
  {
    kernel: 'foldBatchNormIntoConv',
    shape: 'conv2d [1, 6, 7, 4] * [3, 3, 4, 6] + bias, frozen BN folded in',
    // Host-only fold (float64), then a 36-term f32 conv whose weights are scaled by up to ~3.4: rounding ~1e-5.
    tolerance: 1e-4,
    async run(gpu) {
      const input = randomTensor(37, [1, 6, 7, 4]);
      const [weight, bias] = [randomTensor(38, [3, 3, 4, 6]), randomTensor(39, [6])];
      const bn = { gamma: randomTensor(40, [6], 0.5, 1.5).data, beta: randomTensor(41, [6]).data, runningMean: randomTensor(42, [6]).data, runningVar: randomTensor(43, [6], 0.2, 0.5).data };
      const folded = foldBatchNormIntoConv(weight, bias, bn);
      const got = await conv2dHost(gpu, input, folded.weights, { bias: folded.bias });
      const geometry = { n: 1, h: 6, w: 7, cIn: 4, hOut: 4, wOut: 5, cOut: 6, kH: 3, kW: 3, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, padTop: 0, padLeft: 0 };
      const convolved = conv2dRef(input.data, weight.data, bias.data, geometry);
      return [{ got: got.data, want: batchNormApplyRef(convolved, bn.runningMean, bn.runningVar, bn.gamma, bn.beta, eps, { count: 20, c: 6 }) }];
    },
  },
];
