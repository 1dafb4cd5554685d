import { createGpu, type Gpu } from '@graft/kernels';
import { randomArray } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensor } from './create.js';
import { AutogradError, ReleasedTensorError } from './errors.js';
import { DEFAULT_TOLERANCE, gradcheck } from './gradcheck.js';
import { add, addActivate, affine, div, exp, log, mul, relu, relu6, sqrt, square, sub } from './ops/elementwise.js';
import { linear, matmulOp } from './ops/linear.js';
import { meanAllOp, sumAllOp, sumToChannels } from './ops/reduce.js';
import { flatten } from './ops/shape.js';
import { backward, noGrad, releaseGraph } from './tape.js';
import type { Tensor } from './tensor.js';
import { expectGradientsMatch as sharedExpectGradientsMatch } from './testing.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await createGpu();
});

const expectGradientsMatch = (f: (...xs: Tensor[]) => Tensor, shapes: number[][], outSize: number, lo = -1, hi = 1) =>
  sharedExpectGradientsMatch(gpu, f, shapes, outSize, lo, hi);

describe('primitives: tape gradients vs finite differences', () => {
  it('add, sub, mul, div with same shapes and channel broadcasting', async () => {
    await expectGradientsMatch((a, b) => add(a, b), [[2, 3, 5], [5]], 30);
    await expectGradientsMatch((a, b) => sub(a, b), [[2, 3, 5], [2, 3, 5]], 30);
    await expectGradientsMatch((a, b) => mul(a, b), [[4, 3], [3]], 12);
    await expectGradientsMatch((a, b) => div(a, b), [[3, 4], [4]], 12);
  });

  it('exp, log, sqrt, square (log and sqrt on positive inputs)', async () => {
    await expectGradientsMatch((x) => exp(x), [[7]], 7);
    await expectGradientsMatch((x) => square(x), [[7]], 7);
    await expectGradientsMatch((x) => log(x), [[7]], 7, 0.5, 2);
    await expectGradientsMatch((x) => sqrt(x), [[7]], 7, 0.5, 2);
  });

  it('relu, relu6 and the fused residual add (inputs kept away from the kinks)', async () => {
    // Values in [0.05, 0.45] shifted by ±: away from 0 and 6 by more than the difference step.
    const awayFromKinks = (x: Tensor) => mul(x, x); // positive, smooth
    // Plain relu on both sides of its kink, every value further from 0 than the difference step.
    await sharedExpectGradientsMatch(gpu, (x) => relu(x), [{ name: 'x', shape: [6], data: Float32Array.from([-0.9, -0.4, -0.15, 0.2, 0.55, 1.1]) }], 6);
    await expectGradientsMatch((x) => relu6(awayFromKinks(x)), [[9]], 9);
    await expectGradientsMatch((a, b) => addActivate(a, b, 'relu'), [[2, 6], [2, 6]], 12, 0.2, 1);
  });

  it('matmul in every transpose, with bias and fused relu6', async () => {
    await expectGradientsMatch((a, b) => matmulOp(a, b), [[3, 4], [4, 5]], 15);
    await expectGradientsMatch((a, b) => matmulOp(a, b, { transA: true, transB: true }), [[4, 3], [5, 4]], 15);
    await expectGradientsMatch((x, w, bias) => linear(x, w, bias, 'relu6'), [[3, 4], [5, 4], [5]], 15, 0.1, 0.6);
  });

  it('sum, mean, per-channel sums and flatten', async () => {
    await expectGradientsMatch((x) => sumAllOp(x), [[3, 5]], 1);
    await expectGradientsMatch((x) => meanAllOp(x), [[3, 5]], 1);
    await expectGradientsMatch((x) => sumToChannels(x), [[2, 3, 4]], 4);
    await expectGradientsMatch((x) => flatten(x), [[2, 3, 4]], 24);
  });
});

describe('the tape', () => {
  it('noGrad frees only what it made: a training graph used inside it stays alive', () => {
    const a = tensor(gpu, [1, 2, 3], [3], { requiresGrad: true });
    const hidden = mul(a, a);
    const probe = noGrad(() => relu(affine(hidden, 2)));
    expect(hidden.released).toBe(false);
    const loss = sumAllOp(hidden);
    backward(loss);
    probe.release();
    loss.release();
    a.release();
  });

  it('a gradient replaced by accumulation reads as released, not as a recycled buffer', async () => {
    const x = tensor(gpu, [1, 2], [2], { requiresGrad: true });
    const step = () => {
      const loss = sumAllOp(mul(x, x));
      backward(loss);
      loss.release();
    };
    step();
    const first = x.grad!;
    step();
    expect(first.released).toBe(true);
    expect(Array.from(await x.grad!.read())).toEqual([4, 8]);
    expect(() => first.data).toThrow(ReleasedTensorError);
    x.release();
  });

  it('accumulates into leaves used twice and computes only what requires grad', async () => {
    const x = tensor(gpu, [1, 2, 3], [3], { requiresGrad: true });
    const frozen = tensor(gpu, [4, 5, 6], [3]);
    const loss = sumAllOp(add(mul(x, x), mul(x, frozen))); // d/dx = 2x + frozen
    backward(loss);
    expect(Array.from(await x.grad!.read())).toEqual([6, 9, 12]);
    expect(frozen.grad).toBeNull();
    loss.release();
    x.release();
    frozen.release();
  });

  it('records no backward for ops whose inputs are all frozen (a frozen prefix costs nothing)', () => {
    const input = tensor(gpu, randomArray(1, 12), [3, 4]);
    const frozenWeight = tensor(gpu, randomArray(2, 20), [5, 4]);
    const features = linear(input, frozenWeight);
    expect(features.requiresGrad).toBe(false);
    expect(features.creator!.backward).toBeNull();
    const head = tensor(gpu, randomArray(3, 10), [2, 5], { requiresGrad: true });
    const logits = linear(features, head);
    expect(logits.requiresGrad).toBe(true);
    releaseGraph(logits);
    for (const t of [input, frozenWeight, head]) t.release();
  });

  it('frees the graph after backward; a second backward and a freed intermediate are clear errors', () => {
    const x = tensor(gpu, [1, 2], [2], { requiresGrad: true });
    const hidden = mul(x, x);
    const loss = sumAllOp(hidden);
    backward(loss);
    expect(() => hidden.data).toThrow(ReleasedTensorError);
    expect(() => backward(loss)).toThrow(/already freed/);
    loss.release();
    x.release();
  });

  it('refuses backward from a non-scalar without a gradient, and from a graph with nothing to train', () => {
    const x = tensor(gpu, [1, 2], [2], { requiresGrad: true });
    const y = mul(x, x);
    expect(() => backward(y)).toThrow(/non-scalar needs an explicit gradient/);
    releaseGraph(y);
    const frozen = tensor(gpu, [1, 2], [2]);
    const z = sumAllOp(frozen);
    expect(() => backward(z)).toThrow(AutogradError);
    expect(() => backward(z)).toThrow(/does not require grad/);
    releaseGraph(z);
    x.release();
    frozen.release();
  });

  it('noGrad frees every intermediate and returns a plain leaf; memory is flat across steps', async () => {
    const w = tensor(gpu, randomArray(4, 64 * 32), [64, 32], { requiresGrad: true });
    const x = tensor(gpu, randomArray(5, 8 * 32), [8, 32]);
    const step = () => {
      const loss = meanAllOp(square(relu(linear(x, w))));
      backward(loss);
      loss.release();
      w.grad!.release();
      w.grad = null;
    };
    step();
    await gpu.sync();
    const before = gpu.memory().bytesInUse;
    for (let i = 0; i < 20; i++) step();
    const features = noGrad(() => relu(linear(x, w)));
    expect(features.isLeaf).toBe(true);
    features.release();
    await gpu.sync();
    expect(gpu.memory().bytesInUse).toBe(before);
    w.release();
    x.release();
  });
});
