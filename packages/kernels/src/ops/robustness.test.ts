import { afterAll, describe, expect, it } from 'vitest';
import { createGpu, type Gpu } from '../runtime/gpu.js';
import { runKernelSmoke } from '../smoke.js';
import { smokeCases } from '../smoke/index.js';
import { expectClose } from '../testing/compare.js';
import { randomLabels, randomTensor } from '../testing/random.js';
import { batchNormBackwardHost, batchNormTrainingHost } from './batchNorm.js';
import { batchNormBackwardRef, batchNormStatsRef, batchNormTrainingRef } from './batchNorm.ref.js';
import { sigmoidBinaryCrossEntropyBackwardHost, sigmoidBinaryCrossEntropyHost } from './sigmoidBinaryCrossEntropy.js';
import { sigmoidBinaryCrossEntropyBackwardRef, sigmoidBinaryCrossEntropyRef } from './sigmoidBinaryCrossEntropy.ref.js';
import { softmaxCrossEntropyBackwardHost, softmaxCrossEntropyHost } from './softmaxCrossEntropy.js';
import { softmaxCrossEntropyBackwardRef, softmaxCrossEntropyRef } from './softmaxCrossEntropy.ref.js';

/**
 * Every kernel once on a device with Dawn's `disable_robustness` toggle. With robustness on (the
 * default, and every other test file) Dawn clamps out-of-bounds storage reads, so a kernel that
 * forms an address past its binding still passes; here such a read is a real one and gives garbage
 * or faults, on drivers that do not bounds-check by themselves. (Lavapipe does: it returns 0 for
 * out-of-bounds storage reads even without Dawn's robustness, so on this machine these tests show
 * that the kernels build and agree without robustness, but a stray read may still go unnoticed.)
 * The usual culprit is an optional input bound to gpu.placeholder() (16 bytes) and read through
 * select(), which evaluates both operands: the second test runs those launchers with the input absent.
 */
describe('kernels without Dawn robustness', () => {
  let gpu: Gpu | undefined;

  async function device(): Promise<Gpu> {
    gpu ??= await createGpu({ dawnToggles: ['disable_robustness'] });
    return gpu;
  }

  afterAll(() => {
    gpu?.destroy();
  });

  it('every smoke case agrees with its reference', async () => {
    const results = await runKernelSmoke(await device());
    const failed = results.filter((r) => !r.ok).map((r) => `${r.kernel} (${r.shape}): ${r.error ?? `max |error| ${r.maxError} > ${r.tolerance}`}`);
    expect(failed).toEqual([]);
    expect(results).toHaveLength(smokeCases.length);
  }, 120_000);

  // The smoke cases pass every optional input; these leave them out, with sizes well past the
  // placeholder's 4 elements (12 channels, 9 classes) so most invocations would index beyond it.
  it('launchers with optional inputs absent agree with their references', async () => {
    const g = await device();
    // Same tolerances and reasons as batchNorm.test.ts / the loss smoke cases (f32 sums of <= 60 terms).
    const forward = { rtol: 1e-4, atol: 2e-5 };
    const backward = { rtol: 2e-4, atol: 5e-5 };

    // Batch norm without gamma and beta: c = 12 takes the vec4 backward, c = 7 the scalar one.
    for (const c of [12, 7]) {
      const dims = { count: 10, c };
      const x = randomTensor(201 + c, [2, 5, 1, c]);
      const dy = randomTensor(301 + c, [2, 5, 1, c]);
      const trained = await batchNormTrainingHost(g, x);
      expectClose(trained.y.data, batchNormTrainingRef(x.data, undefined, undefined, 1e-5, dims), forward, `batchNorm y, c = ${c}`);
      const stats = batchNormStatsRef(x.data, dims);
      const mean = { data: Float32Array.from(stats.mean), shape: [c] };
      const invstd = { data: Float32Array.from(stats.variance, (v) => 1 / Math.sqrt(v + 1e-5)), shape: [c] };
      for (const batchStatistics of [true, false]) {
        const got = await batchNormBackwardHost(g, dy, x, { mean, invstd }, batchStatistics, { x: true });
        const want = batchNormBackwardRef(dy.data, x.data, mean.data, invstd.data, undefined, dims, batchStatistics);
        expectClose(got.dx!.data, want.dx, backward, `batchNorm dx, c = ${c}, batch statistics ${batchStatistics}`);
      }
    }

    // Softmax cross-entropy without class weights ('mean' takes the backward's normaliser branch).
    const [n, k] = [6, 9];
    const logits = randomTensor(401, [n, k], -5, 5);
    const labels = randomLabels(402, n, k);
    const ce = await softmaxCrossEntropyHost(g, logits, labels, { labelSmoothing: 0.1, reduction: 'none' });
    expectClose(ce.loss.data, softmaxCrossEntropyRef(logits.data, labels, n, k, { labelSmoothing: 0.1, reduction: 'none' }), forward, 'softmaxCrossEntropy');
    const upstream = { data: Float32Array.of(0.7), shape: [1] };
    const dLogits = await softmaxCrossEntropyBackwardHost(g, upstream, logits, labels, { labelSmoothing: 0.1 });
    expectClose(dLogits.data, softmaxCrossEntropyBackwardRef(upstream.data, logits.data, labels, n, k, { labelSmoothing: 0.1 }), forward, 'softmaxCrossEntropyBackward');

    // Sigmoid binary cross-entropy without pos_weight.
    const targets = randomTensor(403, [n, k], 0, 1);
    const bce = await sigmoidBinaryCrossEntropyHost(g, logits, targets, { reduction: 'none' });
    expectClose(bce.data, sigmoidBinaryCrossEntropyRef(logits.data, targets.data, k, { reduction: 'none' }), forward, 'sigmoidBinaryCrossEntropy');
    const dBce = await sigmoidBinaryCrossEntropyBackwardHost(g, upstream, logits, targets);
    expectClose(dBce.data, sigmoidBinaryCrossEntropyBackwardRef(upstream.data, logits.data, targets.data, k), forward, 'sigmoidBinaryCrossEntropyBackward');
  }, 60_000);
});
