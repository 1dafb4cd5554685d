import { batchNormTrainingHost, createGpu, type Activation, type Gpu } from '@graft/kernels';
import { expectClose, randomArray } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensor } from '../create.js';
import { DEFAULT_TOLERANCE, gradcheck } from '../gradcheck.js';
import { backward, noGrad } from '../tape.js';
import type { Tensor } from '../tensor.js';
import { sumAllOp } from './reduce.js';
import { batchNorm, type BatchNormMode, type BatchNormTensors } from './norm.js';
import { expectGradientsMatch as sharedExpectGradientsMatch } from '../testing.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await createGpu();
});

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

const expectGradientsMatch = (f: (...xs: Tensor[]) => Tensor, inputs: { shape: number[]; lo: number; hi: number }[], outSize: number) =>
  sharedExpectGradientsMatch(gpu, f, inputs, outSize);

/** Running statistics: mean in [-0.5, 0.5], variance in [0.5, 2] (frozen modes normalize by them). */
function runningStats(c: number, seed = 50) {
  return {
    runningMean: tensor(gpu, randomArray(seed, c, -0.5, 0.5), [c]),
    runningVar: tensor(gpu, randomArray(seed + 1, c, 0.5, 2), [c]),
  };
}

function releaseAll(...ts: Tensor[]) {
  for (const t of ts) t.release();
}

// x [2, 2, 2, c]: 8 values per channel. gamma in [0.5, 1.5], beta in [-0.5, 0.5].
const xShape = (c: number) => [2, 2, 2, c];
const gammaRange = { lo: 0.5, hi: 1.5 };
const betaRange = { lo: -0.5, hi: 0.5 };

/**
 * Finite differences are valid only away from the fused activation's kinks: the pre-activation
 * (computed with the gradcheck's own inputs and seeds) must stay > 0.05 away from 0 and 6, more
 * than one difference step (1e-2 on x) moves it.
 */
async function expectAwayFromKinks(mode: BatchNormMode, c: number, running: { runningMean: Tensor; runningVar: Tensor }, betas = betaRange) {
  const [x, gamma, beta] = [
    tensor(gpu, randomArray(100, sizeOf(xShape(c)), -1, 1), xShape(c)),
    tensor(gpu, randomArray(101, c, gammaRange.lo, gammaRange.hi), [c]),
    tensor(gpu, randomArray(102, c, betas.lo, betas.hi), [c]),
  ];
  const y = noGrad(() => batchNorm(x, { gamma, beta, ...running }, { mode, momentum: 0 }));
  const pre = await y.read();
  const distance = Math.min(...Array.from(pre, (v) => Math.min(Math.abs(v), Math.abs(v - 6))));
  expect(distance, 'test data too close to a relu kink for finite differences').toBeGreaterThan(0.05);
  // Both sides of a kink must occur, or the test would not exercise the activation's mask.
  const kink = betas === betaRange ? 0 : 6;
  expect(pre.some((v) => v < kink) && pre.some((v) => v > kink), 'test data on one side of the kink').toBe(true);
  releaseAll(x, gamma, beta, y);
}

describe('batchNorm: tape gradients vs finite differences', () => {
  it("'train': dx, dgamma, dbeta through the batch statistics, plain and with fused relu (vec4 path)", async () => {
    // The training forward never reads the running statistics, so the probes would measure the right
    // derivative for any momentum; but each probe runs the forward, and with momentum > 0 every one of
    // them would drift the shared running buffers. Momentum 0 makes the update running <- running,
    // so the check leaves no side effect behind (the update itself is tested separately below).
    for (const [c, activation] of [
      [3, 'none'],
      [4, 'relu'],
    ] as [number, Activation][]) {
      const running = runningStats(c);
      const before = [await running.runningMean.read(), await running.runningVar.read()];
      if (activation !== 'none') await expectAwayFromKinks('train', c, running);
      await expectGradientsMatch(
        (x, gamma, beta) => batchNorm(x, { gamma, beta, ...running }, { mode: 'train', momentum: 0, activation }),
        [{ shape: xShape(c), lo: -1, hi: 1 }, { shape: [c], ...gammaRange }, { shape: [c], ...betaRange }],
        sizeOf(xShape(c)),
      );
      expect(await running.runningMean.read()).toEqual(before[0]);
      expect(await running.runningVar.read()).toEqual(before[1]);
      releaseAll(running.runningMean, running.runningVar);
    }
  });

  it("'affine': dx through the frozen running statistics, dgamma and dbeta (fastai's frozen BN)", async () => {
    // relu6 is checked around its upper kink: beta near 5 puts some outputs above 6, none near 0.
    const highBetas = { lo: 4.5, hi: 5.5 };
    for (const [c, activation] of [
      [3, 'none'],
      [4, 'relu6'],
    ] as [number, Activation][]) {
      const betas = activation === 'relu6' ? highBetas : betaRange;
      const running = runningStats(c);
      if (activation !== 'none') await expectAwayFromKinks('affine', c, running, betas);
      await expectGradientsMatch(
        (x, gamma, beta) => batchNorm(x, { gamma, beta, ...running }, { mode: 'affine', activation }),
        [{ shape: xShape(c), lo: -1, hi: 1 }, { shape: [c], ...gammaRange }, { shape: [c], ...betas }],
        sizeOf(xShape(c)),
      );
      releaseAll(running.runningMean, running.runningVar);
    }
  });

  it("'frozen': dx only; gamma and beta get no gradient even when they require grad (Keras trainable=False)", async () => {
    const c = 3;
    const running = runningStats(c);
    const gamma = tensor(gpu, randomArray(60, c, 0.5, 1.5), [c], { requiresGrad: true });
    const beta = tensor(gpu, randomArray(61, c, -0.5, 0.5), [c], { requiresGrad: true });
    await expectGradientsMatch((x) => batchNorm(x, { gamma, beta, ...running }, { mode: 'frozen' }), [{ shape: xShape(c), lo: -1, hi: 1 }], sizeOf(xShape(c)));
    expect(gamma.grad).toBeNull();
    expect(beta.grad).toBeNull();
    // With x frozen too, nothing requires grad: no backward is recorded at all.
    const x = tensor(gpu, randomArray(62, sizeOf(xShape(c))), xShape(c));
    const y = batchNorm(x, { gamma, beta, ...running }, { mode: 'frozen' });
    expect(y.requiresGrad).toBe(false);
    expect(y.creator!.backward).toBeNull();
    releaseAll(y, x, gamma, beta, running.runningMean, running.runningVar);
  });
});

describe('batchNorm: running statistics', () => {
  it("'train' updates them in place exactly as the kernel does, and as PyTorch's formula says", async () => {
    const c = 5;
    const shape = [3, 2, 2, c];
    const count = 12;
    const xData = randomArray(70, sizeOf(shape), -2, 3);
    const meanData = randomArray(71, c, -0.5, 0.5);
    const varData = randomArray(72, c, 0.5, 2);
    const momentum = 0.3;

    const x = tensor(gpu, xData, shape, { requiresGrad: true });
    const gamma = tensor(gpu, randomArray(73, c, 0.5, 1.5), [c], { requiresGrad: true });
    const beta = tensor(gpu, randomArray(74, c), [c], { requiresGrad: true });
    const running = { runningMean: tensor(gpu, meanData, [c]), runningVar: tensor(gpu, varData, [c]) };
    const loss = sumAllOp(batchNorm(x, { gamma, beta, ...running }, { mode: 'train', momentum }));
    backward(loss); // the backward must not touch them either
    const [gotMean, gotVar] = [await running.runningMean.read(), await running.runningVar.read()];

    // The kernel's own host variant: the same arithmetic, so equal to the bit.
    const kernel = await batchNormTrainingHost(
      gpu,
      { data: xData, shape },
      { runningMean: { data: meanData, shape: [c] }, runningVar: { data: varData, shape: [c] } },
      { momentum },
    );
    expect(gotMean).toEqual(kernel.runningMean!.data);
    expect(gotVar).toEqual(kernel.runningVar!.data);

    // From the math in float64: running <- (1 - m) running + m batch, unbiased batch variance.
    const expectedMean = new Float64Array(c);
    const expectedVar = new Float64Array(c);
    for (let ch = 0; ch < c; ch++) {
      let mean = 0;
      for (let r = 0; r < count; r++) mean += xData[r * c + ch]!;
      mean /= count;
      let ss = 0;
      for (let r = 0; r < count; r++) ss += (xData[r * c + ch]! - mean) ** 2;
      expectedMean[ch] = (1 - momentum) * meanData[ch]! + momentum * mean;
      expectedVar[ch] = (1 - momentum) * varData[ch]! + (momentum * ss) / (count - 1);
    }
    // f32 sums of 12 values: ~1e-6 relative.
    expectClose(gotMean, expectedMean, { rtol: 1e-5, atol: 1e-6 }, 'runningMean');
    expectClose(gotVar, expectedVar, { rtol: 1e-5, atol: 1e-6 }, 'runningVar');
    releaseAll(loss, x, gamma, beta, running.runningMean, running.runningVar);
  });

  it("'frozen' and 'affine' leave them unchanged, forward and backward", async () => {
    const c = 4;
    for (const mode of ['frozen', 'affine'] as const) {
      const running = runningStats(c, 80);
      const before = [await running.runningMean.read(), await running.runningVar.read()];
      const x = tensor(gpu, randomArray(81, sizeOf(xShape(c)), -2, 3), xShape(c), { requiresGrad: true });
      const gamma = tensor(gpu, randomArray(82, c, 0.5, 1.5), [c], { requiresGrad: true });
      const beta = tensor(gpu, randomArray(83, c), [c], { requiresGrad: true });
      const loss = sumAllOp(batchNorm(x, { gamma, beta, ...running }, { mode, momentum: 0.5 }));
      backward(loss);
      expect(await running.runningMean.read()).toEqual(before[0]);
      expect(await running.runningVar.read()).toEqual(before[1]);
      expect(gamma.grad === null).toBe(mode === 'frozen');
      releaseAll(loss, x, gamma, beta, running.runningMean, running.runningVar);
    }
  });

  it('memory stays flat across steps in every mode (saved mean/invstd are freed with the graph)', async () => {
    const c = 4;
    const params: BatchNormTensors = {
      gamma: tensor(gpu, randomArray(90, c, 0.5, 1.5), [c], { requiresGrad: true }),
      beta: tensor(gpu, randomArray(91, c), [c], { requiresGrad: true }),
      ...runningStats(c, 92),
    };
    const x = tensor(gpu, randomArray(93, sizeOf(xShape(c))), xShape(c), { requiresGrad: true });
    const step = () => {
      for (const mode of ['train', 'frozen', 'affine'] as const) {
        const loss = sumAllOp(batchNorm(x, params, { mode, activation: 'relu' }));
        backward(loss);
        loss.release();
        noGrad(() => batchNorm(x, params, { mode })).release();
      }
      for (const t of [x, params.gamma, params.beta]) {
        t.grad?.release();
        t.grad = null;
      }
    };
    step();
    await gpu.sync();
    const before = gpu.memory().bytesInUse;
    for (let i = 0; i < 5; i++) step();
    await gpu.sync();
    expect(gpu.memory().bytesInUse).toBe(before);
    releaseAll(x, params.gamma, params.beta, params.runningMean, params.runningVar);
  });

  it('rejects an unknown mode by name', () => {
    const running = runningStats(2);
    const p = { gamma: tensor(gpu, [1, 1], [2]), beta: tensor(gpu, [0, 0], [2]), ...running };
    const x = tensor(gpu, randomArray(1, 8), [1, 2, 2, 2]);
    expect(() => batchNorm(x, p, { mode: 'eval' as BatchNormMode })).toThrow(/'train', 'frozen', 'affine'/);
    releaseAll(x, p.gamma, p.beta, p.runningMean, p.runningVar);
  });
});
