/**
 * Smoke cases: the fused optimizer steps, two tensors of odd sizes in one dispatch, two steps each
 * (the first step initialises SGD's momentum buffer; Adam's bias corrections differ per step).
 */
import { adamHost, type AdamOptions } from '../ops/adam.js';
import { adamStepRef, sgdStepRef } from '../ops/optimizer.ref.js';
import { sgdHost, type SgdOptions } from '../ops/sgd.js';
import { randomTensor } from '../testing/random.js';
import type { Comparison, SmokeCase } from './case.js';

const shapes = [[7, 3], [5]] as const;
const params = () => shapes.map((s, i) => randomTensor(101 + i, s));
const gradsPerStep = [0, 1].map((step) => shapes.map((s, i) => randomTensor(111 + 10 * step + i, s)));

export const optimizerCases: SmokeCase[] = [
  {
    kernel: 'sgd',
    shape: '[7, 3] nesterov + [5] dampened momentum, weight decay; 2 steps',
    // A few f32 multiply-adds per element on values ~1 each step: ~1e-7.
    tolerance: 1e-6,
    async run(gpu) {
      const options: SgdOptions[] = [
        { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-2 },
        { lr: 0.05, momentum: 0.8, dampening: 0.3 },
      ];
      const start = params();
      const got = await sgdHost(gpu, start.map((param, i) => ({ param, options: options[i]! })), gradsPerStep);
      const comparisons: Comparison[] = [];
      start.forEach((p, i) => {
        let state = { param: Float64Array.from(p.data) as ArrayLike<number>, momentumBuffer: null as ArrayLike<number> | null };
        got.forEach((result, step) => {
          state = sgdStepRef(state.param, gradsPerStep[step]![i]!.data, state.momentumBuffer, options[i]!);
          comparisons.push({ got: result.params[i]!, want: state.param }, { got: result.state.momentumBuffer[i]!, want: state.momentumBuffer! });
        });
      });
      return comparisons;
    },
  },
  {
    kernel: 'adam',
    shape: '[7, 3] Adam (L2) + [5] AdamW; 2 steps',
    // m / (sqrt(v) + eps) is ~1 on the first steps; f32 rounding of it times lr 1e-2: ~1e-8 on params.
    tolerance: 1e-6,
    async run(gpu) {
      const options: AdamOptions[] = [
        { lr: 1e-2, weightDecay: 1e-2 },
        { lr: 1e-2, betas: [0.8, 0.99], decoupledWeightDecay: true },
      ];
      const start = params();
      const got = await adamHost(gpu, start.map((param, i) => ({ param, options: options[i]! })), gradsPerStep);
      const comparisons: Comparison[] = [];
      start.forEach((p, i) => {
        let state = { param: p.data as ArrayLike<number>, expAvg: new Float64Array(p.data.length) as ArrayLike<number>, expAvgSq: new Float64Array(p.data.length) as ArrayLike<number> };
        got.forEach((result, step) => {
          state = adamStepRef(state.param, gradsPerStep[step]![i]!.data, state.expAvg, state.expAvgSq, step + 1, options[i]!);
          comparisons.push(
            { got: result.params[i]!, want: state.param },
            { got: result.state.expAvg[i]!, want: state.expAvg },
            { got: result.state.expAvgSq[i]!, want: state.expAvgSq },
          );
        });
      });
      return comparisons;
    },
  },
];
