import { createGpu, type Gpu } from '@graft/kernels';
import { randomArray } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensor } from '../create.js';
import { backward } from '../tape.js';
import { evaluate, expectAwayFromKinks, expectGradientsMatch, randomInputs, type InputSpec } from '../testing.js';
import type { Tensor } from '../tensor.js';
import { conv2dOp, depthwiseConv2dOp } from './conv.js';
import { sumAllOp } from './reduce.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await createGpu();
});

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Gradcheck of a convolution with a fused activation whose inputs keep every pre-activation away
 * from the kinks (a difference step moves a pre-activation by at most 1e-2 x the largest |x|, |w|
 * or 1; the margin is twice that) and exercise every piece: below 0, between, and (relu6) above 6.
 */
async function expectFusedGradientsMatch(
  kinks: number[],
  withActivation: (...xs: Tensor[]) => Tensor,
  withoutActivation: (...xs: Tensor[]) => Tensor,
  specs: InputSpec[],
  outSize: number,
) {
  const inputs = randomInputs(specs);
  const largest = Math.max(1, ...inputs.flatMap((input) => Array.from(input.data, Math.abs)));
  const above = expectAwayFromKinks(await evaluate(gpu, withoutActivation, inputs), kinks, 0.02 * largest, 'fused activation');
  const perPiece = [outSize - above[0]!, ...above.map((count, i) => count - (above[i + 1] ?? 0))];
  perPiece.forEach((count, piece) => expect(count, `pre-activations in piece ${piece} of [${kinks}]`).toBeGreaterThan(0));
  await expectGradientsMatch(gpu, withActivation, inputs, outSize);
}

describe('conv2dOp: tape gradients vs finite differences', () => {
  it('odd sizes, valid padding, c_in 3 and c_out 5 (not multiples of 4)', async () => {
    await expectGradientsMatch(gpu, (x, w) => conv2dOp(x, w), [[1, 5, 7, 3], [3, 3, 3, 5]], 1 * 3 * 5 * 5);
  });

  it('stride 2 with TF-same padding (odd total on h: the extra row at the bottom), batch 2', async () => {
    // h = 6, k = 3, s = 2: out 3, total pad 1 -> top 0, bottom 1; w = 5: total 2 -> 1 and 1.
    await expectGradientsMatch(gpu, (x, w) => conv2dOp(x, w, { stride: 2, padding: 'same' }), [[2, 6, 5, 3], [3, 3, 3, 6]], 2 * 3 * 3 * 6);
  });

  it('bias + fused relu6 with explicit padding and c_out a multiple of 4 (vec4 path)', async () => {
    const specs: InputSpec[] = [
      { shape: [1, 3, 4, 4], lo: -1, hi: 2 },
      { shape: [3, 3, 4, 8], lo: -0.6, hi: 1 },
      { shape: [8], lo: -1, hi: 2, seed: 2 }, // a seed whose pre-activations all keep clear of the kinks
    ];
    await expectFusedGradientsMatch(
      [0, 6],
      (x, w, b) => conv2dOp(x, w, { bias: b, padding: 1, activation: 'relu6' }),
      (x, w, b) => conv2dOp(x, w, { bias: b, padding: 1 }),
      specs,
      1 * 3 * 4 * 8,
    );
  });

  it('1x1 (the matmul path) with bias and a fused relu, stride-2 1x1 and dilation 2', async () => {
    await expectFusedGradientsMatch(
      [0],
      (x, w, b) => conv2dOp(x, w, { bias: b, activation: 'relu' }),
      (x, w, b) => conv2dOp(x, w, { bias: b }),
      [[1, 3, 3, 5], [1, 1, 5, 3], { shape: [3], seed: 2 }], // a bias seed that keeps every pre-activation clear of 0
      27,
    );
    await expectGradientsMatch(gpu, (x, w) => conv2dOp(x, w, { stride: 2 }), [[1, 5, 5, 3], [1, 1, 3, 4]], 1 * 3 * 3 * 4);
    await expectGradientsMatch(gpu, (x, w) => conv2dOp(x, w, { dilation: 2, padding: 'same' }), [[1, 5, 6, 2], [3, 3, 2, 3]], 1 * 5 * 6 * 3);
  });

  it('computes only the gradients asked for: a frozen weight gets none, x the same as when all are trained', async () => {
    const xData = randomArray(1, size([1, 5, 5, 3]));
    const wData = randomArray(2, size([3, 3, 3, 4]));
    const bData = randomArray(3, 4);
    const gradOfX = async (train: boolean) => {
      const x = tensor(gpu, xData, [1, 5, 5, 3], { requiresGrad: true });
      const w = tensor(gpu, wData, [3, 3, 3, 4], { requiresGrad: train });
      const b = tensor(gpu, bData, [4], { requiresGrad: train });
      backward(sumAllOp(conv2dOp(x, w, { bias: b, padding: 'same' })));
      expect(w.grad === null).toBe(!train);
      expect(b.grad === null).toBe(!train);
      const g = await x.grad!.read();
      for (const t of [x, w, b]) t.release();
      return g;
    };
    expect(Array.from(await gradOfX(false))).toEqual(Array.from(await gradOfX(true)));
  });
});

describe('depthwiseConv2dOp: tape gradients vs finite differences', () => {
  it('odd sizes, valid padding, c = 3 (scalar path)', async () => {
    await expectGradientsMatch(gpu, (x, w) => depthwiseConv2dOp(x, w), [[1, 5, 7, 3], [3, 3, 3]], 1 * 3 * 5 * 3);
  });

  it('stride 2 with TF-same padding, c = 4 (vec4 path), batch 2', async () => {
    await expectGradientsMatch(gpu, (x, w) => depthwiseConv2dOp(x, w, { stride: 2, padding: 'same' }), [[2, 6, 5, 4], [3, 3, 4]], 2 * 3 * 3 * 4);
  });

  it('5x5 window, stride 2, TF-same padding, c = 5', async () => {
    // h = w = 6, k = 5, s = 2: out 3, total pad 3 -> 1 before and 2 after.
    await expectGradientsMatch(gpu, (x, w) => depthwiseConv2dOp(x, w, { stride: 2, padding: 'same' }), [[1, 6, 6, 5], [5, 5, 5]], 1 * 3 * 3 * 5);
  });

  it('bias + fused relu6, TF-same padding, c = 6', async () => {
    const specs: InputSpec[] = [
      { shape: [1, 4, 5, 6], lo: -1, hi: 3 },
      { shape: [3, 3, 6], lo: -0.5, hi: 1.5 },
      { shape: [6], lo: -1, hi: 2 },
    ];
    await expectFusedGradientsMatch(
      [0, 6],
      (x, w, b) => depthwiseConv2dOp(x, w, { bias: b, padding: 'same', activation: 'relu6' }),
      (x, w, b) => depthwiseConv2dOp(x, w, { bias: b, padding: 'same' }),
      specs,
      1 * 4 * 5 * 6,
    );
  });
});
