import { createGpu, type Gpu, type MaxPool2dOptions } from '@graft/kernels';
import { randomArray, rng } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensor } from '../create.js';
import type { GradcheckInput } from '../gradcheck.js';
import { backward, noGrad } from '../tape.js';
import { expectGradientsMatch } from '../testing.js';
import { globalAvgPoolOp, maxPool2dOp } from './pool.js';
import { sumAllOp } from './reduce.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await createGpu();
});

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Max pooling is differentiable only where each window's maximum is unique by more than the
 * difference step: a shuffled ladder of values spaced 0.05 apart (> 2 x 1e-2) has no near-ties.
 */
function distinctValues(shape: number[], offset: number): GradcheckInput {
  const n = size(shape);
  const data = Float32Array.from({ length: n }, (_, i) => offset + 0.05 * i);
  const next = rng(11);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [data[i], data[j]] = [data[j]!, data[i]!];
  }
  return { name: 'x', shape, data };
}

async function expectMaxPoolGradientsMatch(shape: number[], options: MaxPool2dOptions, outSize: number, offset = -2) {
  await expectGradientsMatch(gpu, (x) => maxPool2dOp(x, options), [distinctValues(shape, offset)], outSize);
}

describe('globalAvgPoolOp: tape gradients vs finite differences', () => {
  it('[n, h, w, c] -> [n, c] on odd sizes, c not a multiple of 4', async () => {
    await expectGradientsMatch(gpu, (x) => globalAvgPoolOp(x), [[2, 3, 5, 6]], 12);
    await expectGradientsMatch(gpu, (x) => globalAvgPoolOp(x), [[1, 1, 1, 3]], 3);
  });
});

describe('maxPool2dOp: tape gradients vs finite differences', () => {
  it('3x3 stride 2 valid on odd sizes: overlapping windows add up, c = 3', async () => {
    await expectMaxPoolGradientsMatch([1, 7, 7, 3], { kernelSize: 3, stride: 2 }, 1 * 3 * 3 * 3);
  });

  it('3x3 stride 2 TF-same (extra row at the bottom), batch 2, c = 5', async () => {
    // h = 6: out 3, total pad 1 -> top 0, bottom 1; w = 5: total 2 -> 1 and 1.
    await expectMaxPoolGradientsMatch([2, 6, 5, 5], { kernelSize: 3, stride: 2, padding: 'same' }, 2 * 3 * 3 * 5);
  });

  it('explicit padding 1 on all-negative inputs (padding never wins), and the default stride = window', async () => {
    await expectMaxPoolGradientsMatch([1, 6, 6, 2], { kernelSize: 3, stride: 2, padding: 1 }, 1 * 3 * 3 * 2, -10);
    // 2x2 windows over 5x5: the last row and column are in no window and get zero gradient.
    await expectMaxPoolGradientsMatch([1, 5, 5, 4], { kernelSize: 2 }, 1 * 2 * 2 * 4);
  });

  it('keeps argmax only while a graph needs it: memory is flat across steps, and frozen inputs save nothing', async () => {
    const options: MaxPool2dOptions = { kernelSize: 3, stride: 2, padding: 'same' };
    const x = tensor(gpu, randomArray(3, size([2, 7, 7, 6])), [2, 7, 7, 6], { requiresGrad: true });
    const step = () => {
      const loss = sumAllOp(maxPool2dOp(x, options));
      backward(loss);
      loss.release();
      x.grad!.release();
      x.grad = null;
    };
    step();
    await gpu.sync();
    const before = gpu.memory().bytesInUse;
    for (let i = 0; i < 5; i++) step();
    const frozen = tensor(gpu, randomArray(4, size([2, 7, 7, 6])), [2, 7, 7, 6]);
    const y = maxPool2dOp(frozen, options);
    expect(y.creator!.saved).toEqual([]);
    y.release();
    frozen.release();
    noGrad(() => maxPool2dOp(x, options)).release();
    await gpu.sync();
    expect(gpu.memory().bytesInUse).toBe(before);
    x.release();
  });
});
