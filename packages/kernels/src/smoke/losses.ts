/** Smoke cases: softmax, softmax cross-entropy (label smoothing, class weights) and sigmoid binary cross-entropy (pos_weight). */
import { sigmoidBinaryCrossEntropyBackwardHost, sigmoidBinaryCrossEntropyHost } from '../ops/sigmoidBinaryCrossEntropy.js';
import { sigmoidBinaryCrossEntropyBackwardRef, sigmoidBinaryCrossEntropyRef } from '../ops/sigmoidBinaryCrossEntropy.ref.js';
import { softmaxCrossEntropyBackwardHost, softmaxCrossEntropyHost, softmaxHost } from '../ops/softmaxCrossEntropy.js';
import { softmaxCrossEntropyBackwardRef, softmaxCrossEntropyRef, softmaxRef } from '../ops/softmaxCrossEntropy.ref.js';
import { randomLabels, randomTensor } from '../testing/random.js';
import type { SmokeCase } from './case.js';

/** logits [11, 7] in [-5, 5] with u32 labels, label smoothing 0.1 and class weights in [0.5, 2]. */
const [n, k] = [11, 7];
const logits = () => randomTensor(91, [n, k], -5, 5);
const labels = randomLabels(92, n, k);
const weight = () => randomTensor(93, [k], 0.5, 2);
const smoothing = 0.1;

/** BCE: logits [6, 5] in [-6, 6], soft targets in [0, 1], pos_weight per class in [0.5, 3]. */
const bceLogits = () => randomTensor(94, [6, 5], -6, 6);
const bceTargets = () => randomTensor(95, [6, 5], 0, 1);
const posWeight = () => randomTensor(96, [5], 0.5, 3);

export const lossCases: SmokeCase[] = [
  {
    kernel: 'softmax',
    shape: '[9, 13] in [-5, 5]',
    // Probabilities <= 1 from f32 exp and one 13-term sum: ~1e-7.
    tolerance: 1e-6,
    async run(gpu) {
      const x = randomTensor(97, [9, 13], -5, 5);
      return [{ got: (await softmaxHost(gpu, x)).data, want: softmaxRef(x.data, 9, 13) }];
    },
  },
  {
    kernel: 'softmaxCrossEntropy',
    shape: '[11, 7], smoothing 0.1, class weights; mean and per-sample',
    // Per-sample losses ~1-10 from f32 logsumexp, then an 11-term weighted mean: rounding ~1e-6.
    tolerance: 1e-5,
    async run(gpu) {
      const [x, w] = [logits(), weight()];
      const mean = await softmaxCrossEntropyHost(gpu, x, labels, { labelSmoothing: smoothing, weight: w });
      const none = await softmaxCrossEntropyHost(gpu, x, labels, { labelSmoothing: smoothing, weight: w, reduction: 'none' });
      const options = { labelSmoothing: smoothing, weight: w.data };
      return [
        { got: mean.loss.data, want: softmaxCrossEntropyRef(x.data, labels, n, k, options) },
        { got: none.loss.data, want: softmaxCrossEntropyRef(x.data, labels, n, k, { ...options, reduction: 'none' }) },
        // The saved residual is d loss_i / d logits: the 'none' gradient for an upstream of ones.
        { got: none.residual.data, want: softmaxCrossEntropyBackwardRef(new Float64Array(n).fill(1), x.data, labels, n, k, { ...options, reduction: 'none' }) },
      ];
    },
  },
  {
    kernel: 'softmaxCrossEntropyBackward',
    shape: '[11, 7], smoothing 0.1, class weights, mean, upstream 0.7',
    // (C p - c) / sum of weights with p from f32 softmax: ~1e-7.
    tolerance: 1e-6,
    async run(gpu) {
      const [x, w] = [logits(), weight()];
      const upstream = { data: Float32Array.of(0.7), shape: [1] };
      const got = await softmaxCrossEntropyBackwardHost(gpu, upstream, x, labels, { labelSmoothing: smoothing, weight: w });
      return [{ got: got.data, want: softmaxCrossEntropyBackwardRef(upstream.data, x.data, labels, n, k, { labelSmoothing: smoothing, weight: w.data }) }];
    },
  },
  {
    kernel: 'sigmoidBinaryCrossEntropy',
    shape: '[6, 5], soft targets, pos_weight; mean and sum',
    // 30 f32 softplus terms <= ~18 summed: rounding ~1e-5 on the sum (~40).
    tolerance: 1e-4,
    async run(gpu) {
      const [x, t, pw] = [bceLogits(), bceTargets(), posWeight()];
      const comparisons = [];
      for (const reduction of ['mean', 'sum'] as const) {
        const got = await sigmoidBinaryCrossEntropyHost(gpu, x, t, { posWeight: pw, reduction });
        comparisons.push({ got: got.data, want: sigmoidBinaryCrossEntropyRef(x.data, t.data, 5, { posWeight: pw.data, reduction }) });
      }
      return comparisons;
    },
  },
  {
    kernel: 'sigmoidBinaryCrossEntropyBackward',
    shape: '[6, 5], soft targets, pos_weight, mean, upstream 0.7',
    // A few f32 operations per element on values <= 3: ~1e-7.
    tolerance: 1e-6,
    async run(gpu) {
      const [x, t, pw] = [bceLogits(), bceTargets(), posWeight()];
      const upstream = { data: Float32Array.of(0.7), shape: [1] };
      const got = await sigmoidBinaryCrossEntropyBackwardHost(gpu, upstream, x, t, { posWeight: pw });
      return [{ got: got.data, want: sigmoidBinaryCrossEntropyBackwardRef(upstream.data, x.data, t.data, 5, { posWeight: pw.data }) }];
    },
  },
];
