import { binary, createGpu, unary, type Gpu } from '@graft/kernels';
import { randomArray, rng } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensor } from '../create.js';
import { softmaxCrossEntropy } from '../ops/loss.js';
import { backward, noGrad, releaseGraph } from '../tape.js';
import type { Tensor } from '../tensor.js';
import { BatchNorm2d, Conv2d, Dropout, Flatten, GlobalAvgPool, Linear, ReLU, Sequential } from './layers.js';
import { copyInto, type Module } from './module.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await createGpu();
});

/** Plain SGD, p -= lr * grad, in place (no optimizer classes yet). Parameters without a gradient are skipped. */
function sgdStep(module: Module, lr: number): void {
  for (const p of module.parameters()) {
    if (!p.grad) continue;
    const step = unary(gpu, 'affine', p.grad.data, -lr, 0);
    const updated = binary(gpu, 'add', p.data, step);
    copyInto(p, updated);
    gpu.release(step, updated);
    p.grad.release();
    p.grad = null;
  }
}

function argmaxRows(values: Float32Array, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length / k; i++) {
    const row = values.subarray(i * k, (i + 1) * k);
    out.push(row.indexOf(Math.max(...row)));
  }
  return out;
}

async function accuracy(model: Module & { forward(x: Tensor): Tensor }, x: Tensor, labels: Uint32Array, k: number): Promise<number> {
  const logits = noGrad(() => model.forward(x));
  const predicted = argmaxRows(await logits.read(), k);
  logits.release();
  return predicted.filter((p, i) => p === labels[i]).length / labels.length;
}

async function train(model: Module & { forward(x: Tensor): Tensor }, x: Tensor, labels: Uint32Array, steps: number, lr: number): Promise<number[]> {
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const loss = softmaxCrossEntropy(model.forward(x), labels);
    backward(loss);
    if (step % 50 === 0 || step === steps - 1) losses.push((await loss.read())[0]!);
    loss.release();
    sgdStep(model, lr);
  }
  return losses;
}

describe('layers', () => {
  it('Conv2d: dense HWIO and depthwise weights, same padding and stride, PyTorch init bound', async () => {
    const dense = new Conv2d(gpu, 3, 5, 3, { stride: 2, padding: 'same', seed: 1 });
    const depthwise = new Conv2d(gpu, 4, 4, [3, 3], { groups: 4, padding: 'same', activation: 'relu6', seed: 2 });
    expect(dense.weight.shape).toEqual([3, 3, 3, 5]);
    expect(depthwise.weight.shape).toEqual([3, 3, 4]);
    const w = await dense.weight.read();
    const bound = 1 / Math.sqrt(3 * 9);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.8 * bound);
    const x = tensor(gpu, randomArray(1, 2 * 7 * 7 * 3), [2, 7, 7, 3]);
    const y = noGrad(() => dense.forward(x));
    expect(y.shape).toEqual([2, 4, 4, 5]);
    const xd = tensor(gpu, randomArray(2, 1 * 5 * 5 * 4), [1, 5, 5, 4]);
    const yd = noGrad(() => depthwise.forward(xd));
    expect(yd.shape).toEqual([1, 5, 5, 4]);
    expect(Math.min(...(await yd.read()))).toBeGreaterThanOrEqual(0); // fused relu6
    for (const t of [x, y, xd, yd]) t.release();
    expect(() => new Conv2d(gpu, 4, 8, 3, { groups: 4 })).toThrow(/groups must be 1 or equal/);
    dense.release();
    depthwise.release();
  });

  it('BatchNorm2d: an explicit bnMode survives train()/eval(); null follows training', async () => {
    const bn = new BatchNorm2d(gpu, 3);
    const model = new Sequential(bn);
    const x = tensor(gpu, randomArray(4, 2 * 3 * 3 * 3, 1, 3), [2, 3, 3, 3]);
    const runningMean = async () => Array.from(await bn.runningMean.read());

    expect(bn.effectiveMode).toBe('train');
    model.eval();
    expect(bn.effectiveMode).toBe('frozen');
    noGrad(() => model.forward(x)).release();
    expect(await runningMean()).toEqual([0, 0, 0]);

    // The PyTorch trap: model.train() after freezing BN must not bring batch statistics back.
    bn.bnMode = 'frozen';
    model.train();
    expect(bn.training).toBe(true);
    expect(bn.effectiveMode).toBe('frozen');
    const y = model.forward(x);
    const loss = softmaxCrossEntropy(new Flatten().forward(new GlobalAvgPool().forward(y)), new Uint32Array([0, 1]));
    expect(await runningMean()).toEqual([0, 0, 0]);
    // gamma and beta require grad but 'frozen' leaves them out of the graph: nothing requires grad.
    expect(loss.requiresGrad).toBe(false);
    releaseGraph(loss);

    bn.bnMode = 'affine';
    model.eval().train();
    expect(bn.effectiveMode).toBe('affine');

    bn.bnMode = null;
    noGrad(() => model.forward(x)).release();
    const updated = await runningMean();
    expect(updated.every((m) => m > 0.1)).toBe(true); // 0.1 · batch mean of values in [1, 3]
    expect((await bn.numBatchesTracked!.read())[0]).toBe(1);
    bn.release();
    x.release();
  });

  it('Dropout: active only while training, a new seed per training forward', async () => {
    const drop = new Dropout(0.5, 10);
    const x = tensor(gpu, new Float32Array(64).fill(1), [64]);
    const once = async () => {
      const y = noGrad(() => drop.forward(x));
      const values = await y.read();
      y.release();
      return values;
    };
    const a = await once();
    const b = await once();
    expect(drop.seed).toBe(12);
    expect(Array.from(a)).not.toEqual(Array.from(b));
    expect(new Set(a)).toEqual(new Set([0, 2]));
    drop.eval();
    expect(drop.forward(x)).toBe(x);
    expect(drop.seed).toBe(12);
    x.release();
  });

  it('an MLP (Linear-ReLU-Linear) learns XOR-like quadrants to 100% training accuracy', async () => {
    const n = 64;
    const random = rng(11);
    const points = new Float32Array(2 * n);
    const labels = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const [u, v] = [random() * 2 - 1, random() * 2 - 1];
      points.set([u + 0.2 * Math.sign(u), v + 0.2 * Math.sign(v)], 2 * i); // a margin around the axes
      labels[i] = u * v > 0 ? 1 : 0;
    }
    const x = tensor(gpu, points, [n, 2]);
    const mlp = new Sequential(new Linear(gpu, 2, 16, { seed: 1 }), new ReLU(), new Linear(gpu, 16, 2, { seed: 2 }));
    const losses = await train(mlp, x, labels, 400, 0.5);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 4);
    expect(await accuracy(mlp, x, labels, 2)).toBe(1);
    mlp.release();
    x.release();
  }, 15_000);

  it('a CNN (Conv2d-BN-ReLU-GAP-Linear) tells horizontal from vertical bars, 100% in train and eval mode', async () => {
    const n = 16;
    const s = 6;
    const random = rng(12);
    const images = new Float32Array(n * s * s);
    const labels = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = i % 2;
      const at = 1 + Math.floor(random() * (s - 2));
      for (let j = 0; j < s; j++) {
        const [r, c] = labels[i] === 1 ? [at, j] : [j, at];
        images[i * s * s + r * s + c] = 1;
      }
      for (let k = 0; k < s * s; k++) images[i * s * s + k]! += 0.1 * (random() - 0.5);
    }
    const x = tensor(gpu, images, [n, s, s, 1]);
    const cnn = new Sequential(
      new Conv2d(gpu, 1, 8, 3, { padding: 'same', bias: false, seed: 3 }),
      new BatchNorm2d(gpu, 8),
      new ReLU(),
      new GlobalAvgPool(),
      new Linear(gpu, 8, 2, { seed: 4 }),
    );
    const losses = await train(cnn, x, labels, 200, 0.2);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 4);
    expect(await accuracy(cnn, x, labels, 2)).toBe(1);
    cnn.eval();
    expect(await accuracy(cnn, x, labels, 2)).toBe(1);
    cnn.release();
    x.release();
  }, 15_000);
});
