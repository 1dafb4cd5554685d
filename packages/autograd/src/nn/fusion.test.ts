import { createGpu, type Gpu } from '@graft/kernels';
import { randomArray } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensor } from '../create.js';
import { backward, noGrad, releaseGraph } from '../tape.js';
import { sumAllOp } from '../ops/reduce.js';
import type { Tensor } from '../tensor.js';
import { convBatchNorm, fusion } from './fusion.js';
import { BatchNorm2d, Conv2d, ReLU6, Sequential } from './layers.js';
import { copyInto } from './module.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await createGpu();
});

/** A batch norm with non-trivial running statistics and affine parameters. */
function trainedBatchNorm(c: number, seed: number, activation?: 'relu6'): BatchNorm2d {
  const bn = new BatchNorm2d(gpu, c, { eps: 1e-3, activation });
  const set = (t: Tensor, data: Float32Array) => {
    const up = gpu.upload(data, [c]);
    copyInto(t, up);
    gpu.release(up);
  };
  set(bn.weight, randomArray(seed, c, 0.5, 2));
  set(bn.bias, randomArray(seed + 1, c));
  set(bn.runningMean, randomArray(seed + 2, c));
  set(bn.runningVar, randomArray(seed + 3, c, 0.2, 3));
  return bn.eval();
}

/** Runs with the convolution frozen (grad on, so the output keeps its node and op name), fused and not. */
async function bothWays(conv: Conv2d, run: () => Tensor): Promise<{ fused: Float32Array; unfused: Float32Array; fusedOp: string }> {
  for (const p of conv.parameters()) p.requiresGrad = false;
  const fusedOut = run();
  const fusedOp = fusedOut.creator?.op ?? '';
  fusion.convBatchNorm = false;
  try {
    const unfusedOut = run();
    const result = { fused: await fusedOut.read(), unfused: await unfusedOut.read(), fusedOp };
    releaseGraph(fusedOut);
    releaseGraph(unfusedOut);
    return result;
  } finally {
    fusion.convBatchNorm = true;
  }
}

const countDifferent = (a: Float32Array, b: Float32Array) => a.reduce((n, v, i) => n + (Object.is(v, b[i]) ? 0 : 1), 0);

describe('conv + frozen batch norm fusion', () => {
  // Dense 3x3 (conv2d kernel), 1x1 (matmul), depthwise; channels not a multiple of 4 included.
  const cases = [
    { label: '3x3 dense, 7 channels, stride 2', make: () => new Conv2d(gpu, 5, 7, 3, { stride: 2, padding: 'same', bias: false, seed: 1 }) },
    { label: '1x1 pointwise, 24 channels', make: () => new Conv2d(gpu, 5, 24, 1, { bias: false, seed: 2 }) },
    { label: 'depthwise 3x3, 5 channels', make: () => new Conv2d(gpu, 5, 5, 3, { padding: 'same', groups: 5, bias: false, seed: 3 }) },
  ];
  for (const { label, make } of cases) {
    it(`${label}: fused output is bit-identical to conv then batch norm (+ReLU6)`, async () => {
      const conv = make();
      const bn = trainedBatchNorm(conv.outChannels, 10, 'relu6');
      const x = tensor(gpu, randomArray(4, 2 * 9 * 9 * 5, -2, 2), [2, 9, 9, 5]);
      const { fused, unfused, fusedOp } = await bothWays(conv, () => new Sequential(conv, bn).forward(x));
      expect(fusedOp).toBe('conv+batchNorm(frozen)+relu6');
      expect(countDifferent(fused, unfused)).toBe(0);
      expect(fused.some((v) => v > 0 && v < 6)).toBe(true);
      x.release();
      conv.release();
      bn.release();
    });
  }

  it('a convolution bias folds into the shift (equal to rounding), and a separate ReLU6 joins the epilogue', async () => {
    const conv = new Conv2d(gpu, 3, 12, 3, { padding: 1, seed: 4 });
    const bn = trainedBatchNorm(12, 20);
    const x = tensor(gpu, randomArray(5, 1 * 6 * 7 * 3, -2, 2), [1, 6, 7, 3]);
    const run = () => convBatchNorm(conv, bn, x, 'relu6');
    const { fused, unfused, fusedOp } = await bothWays(conv, run);
    expect(fusedOp).toBe('conv+batchNorm(frozen)+relu6');
    const reference = await noGrad(() => new ReLU6().forward(bn.forward(conv.forward(x)))).read();
    for (let i = 0; i < fused.length; i++) {
      expect(Math.abs(fused[i]! - reference[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(reference[i]!)));
      expect(unfused[i]).toBe(reference[i]);
    }
    x.release();
    conv.release();
    bn.release();
  });

  it('does not fuse where a gradient is needed or the norm uses batch statistics', async () => {
    const conv = new Conv2d(gpu, 3, 4, 1, { bias: false, seed: 5 });
    const bn = trainedBatchNorm(4, 30);
    const x = tensor(gpu, randomArray(6, 2 * 3 * 3 * 3), [2, 3, 3, 3]);
    // The convolution trains (fine-tuning through a frozen norm): the graph must reach its weight.
    const y = convBatchNorm(conv, bn, x);
    expect(y.creator?.op).toMatch(/^batchNorm\(frozen\)/);
    const loss = sumAllOp(y);
    backward(loss);
    expect(conv.weight.grad).not.toBeNull();
    loss.release();
    // Batch statistics: never fused, even with nothing requiring a gradient.
    bn.bnMode = 'train';
    conv.weight.requiresGrad = false;
    const w = convBatchNorm(conv, bn, x);
    expect(w.creator?.op).toMatch(/^batchNorm\(train\)/);
    w.release();
    x.release();
    conv.release();
    bn.release();
  });
});
