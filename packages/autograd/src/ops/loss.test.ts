import { createGpu, type Gpu, type Reduction } from '@graft/kernels';
import { randomArray, randomLabels } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensor } from '../create.js';
import { AutogradError } from '../errors.js';
import { DEFAULT_TOLERANCE, gradcheck } from '../gradcheck.js';
import { backward } from '../tape.js';
import type { Tensor } from '../tensor.js';
import { sigmoidBinaryCrossEntropy, softmaxCrossEntropy } from './loss.js';
import { expectGradientsMatch as sharedExpectGradientsMatch } from '../testing.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await createGpu();
});

/** Logits in [-2, 2]: the losses are smooth everywhere, so any data is away from kinks. */
const expectGradientsMatch = (f: (logits: Tensor) => Tensor, shape: number[], outSize: number) =>
  sharedExpectGradientsMatch(gpu, f, [{ name: 'logits', shape, lo: -2, hi: 2 }], outSize);

const reductions: Reduction[] = ['mean', 'sum', 'none'];

describe('softmaxCrossEntropy', () => {
  const [n, k] = [5, 4];
  const labels = randomLabels(3, n, k);

  it('gradient w.r.t. logits matches finite differences for every reduction', async () => {
    for (const reduction of reductions) {
      await expectGradientsMatch((logits) => softmaxCrossEntropy(logits, labels, { reduction }), [n, k], reduction === 'none' ? n : 1);
    }
  });

  it('with label smoothing and class weights together, for every reduction (weighted mean divides by the weight sum)', async () => {
    const classWeights = tensor(gpu, randomArray(4, k, 0.3, 2), [k]);
    const labelTensor = gpu.upload(labels, [n], 'u32'); // the GpuTensor form of the labels
    for (const reduction of reductions) {
      await expectGradientsMatch(
        (logits) => softmaxCrossEntropy(logits, labelTensor, { reduction, labelSmoothing: 0.2, classWeights }),
        [n, k],
        reduction === 'none' ? n : 1,
      );
    }
    expect(classWeights.grad).toBeNull();
    gpu.release(labelTensor);
    classWeights.release();
  });

  it('uniform logits give log(k) and the residual is freed with the graph', async () => {
    const logits = tensor(gpu, new Float32Array(n * k), [n, k], { requiresGrad: true });
    const step = async () => {
      const loss = softmaxCrossEntropy(logits, labels);
      expect((await loss.read())[0]).toBeCloseTo(Math.log(k), 6);
      backward(loss);
      loss.release();
      logits.grad!.release();
      logits.grad = null;
    };
    await step();
    await gpu.sync();
    const before = gpu.memory().bytesInUse;
    for (let i = 0; i < 3; i++) await step();
    await gpu.sync();
    expect(gpu.memory().bytesInUse).toBe(before);
    logits.release();
  });

  it('refuses trainable class weights and out-of-range host labels', () => {
    const logits = tensor(gpu, randomArray(1, n * k), [n, k], { requiresGrad: true });
    const trainable = tensor(gpu, [1, 1, 1, 1], [k], { requiresGrad: true });
    expect(() => softmaxCrossEntropy(logits, labels, { classWeights: trainable })).toThrow(AutogradError);
    expect(() => softmaxCrossEntropy(logits, Uint32Array.from([0, 1, 2, 3, 4]))).toThrow(/labels\[4\] = 4 is not a class index in \[0, 4\)/);
    expect(() => softmaxCrossEntropy(logits, Uint32Array.from([0, 1]))).toThrow(/2 labels for 5 rows/);
    logits.release();
    trainable.release();
  });
});

describe('sigmoidBinaryCrossEntropy', () => {
  const [n, classes] = [3, 4];
  let targets: Tensor;
  let posWeight: Tensor;
  beforeAll(() => {
    targets = tensor(gpu, randomArray(5, n * classes, 0, 1), [n, classes]); // soft targets in [0, 1]
    posWeight = tensor(gpu, randomArray(6, classes, 0.5, 2), [classes]);
  });

  it('gradient w.r.t. logits matches finite differences for every reduction, with and without posWeight', async () => {
    for (const reduction of reductions) {
      const outSize = reduction === 'none' ? n * classes : 1;
      await expectGradientsMatch((logits) => sigmoidBinaryCrossEntropy(logits, targets, { reduction }), [n, classes], outSize);
      await expectGradientsMatch((logits) => sigmoidBinaryCrossEntropy(logits, targets, { reduction, posWeight }), [n, classes], outSize);
    }
    expect(targets.grad).toBeNull();
    expect(posWeight.grad).toBeNull();
  });

  it('rank-1 logits [n] with a [1] posWeight', async () => {
    const t = tensor(gpu, [1, 0, 1, 0, 1], [5]);
    const w = tensor(gpu, [3], [1]);
    await expectGradientsMatch((logits) => sigmoidBinaryCrossEntropy(logits, t, { posWeight: w }), [5], 1);
    t.release();
    w.release();
  });

  it('refuses targets or posWeight that require grad', () => {
    const logits = tensor(gpu, randomArray(1, n * classes), [n, classes], { requiresGrad: true });
    const trainableTargets = tensor(gpu, randomArray(2, n * classes, 0, 1), [n, classes], { requiresGrad: true });
    expect(() => sigmoidBinaryCrossEntropy(logits, trainableTargets)).toThrow(/targets .* requires grad/);
    logits.release();
    trainableTargets.release();
  });
});
