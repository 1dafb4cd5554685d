import { createGpu, type Gpu } from '@graft/kernels';
import { randomArray } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { tensor } from '../create.js';
import { BatchNorm2d, Linear, Sequential } from '../nn/layers.js';
import { square } from '../ops/elementwise.js';
import { sumAllOp } from '../ops/reduce.js';
import { backward } from '../tape.js';
import type { Tensor } from '../tensor.js';
import { Adam, AdamW } from './adam.js';
import { clipGradNorm } from './clip.js';
import type { Optimizer } from './optimizer.js';
import { SGD } from './sgd.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await createGpu();
});

/** body.weight [4,3], body.bias [4], head.weight [2,4], head.bias [2]; loss = sum((head(body(x)))^2). */
function makeNet(seed = 1) {
  const net = new Sequential() as Sequential & { body: Linear; head: Linear };
  net.registerModule('body', new Linear(gpu, 3, 4, { seed }));
  net.registerModule('head', new Linear(gpu, 4, 2, { seed: seed + 1 }));
  return net;
}

function computeGrads(net: ReturnType<typeof makeNet>, seed: number): void {
  const x = tensor(gpu, randomArray(seed, 6), [2, 3]);
  backward(sumAllOp(square(net.head.forward(net.body.forward(x)))));
  x.release();
}

const readAll = (ts: readonly Tensor[]) => Promise.all(ts.map((t) => t.read()));

/** Per-parameter float64 reference state of one optimizer, PyTorch's documented update rules. */
type Rule = (p: Float64Array, g: Float64Array, state: Record<string, Float64Array | number>, hyper: Record<string, number>) => void;

const sgdRule: Rule = (p, g, state, h) => {
  const d = g.map((gi, k) => gi + h.weightDecay! * p[k]!);
  if (h.momentum) {
    const buf = state.buf as Float64Array | undefined;
    state.buf = buf ? buf.map((b, k) => h.momentum! * b + (1 - h.dampening!) * d[k]!) : Float64Array.from(d);
    const b = state.buf as Float64Array;
    for (let k = 0; k < d.length; k++) d[k] = h.nesterov ? d[k]! + h.momentum * b[k]! : b[k]!;
  }
  for (let k = 0; k < p.length; k++) p[k] = p[k]! - h.lr! * d[k]!;
};

const adamRule: Rule = (p, g0, state, h) => {
  const t = ((state.t as number | undefined) ?? 0) + 1;
  state.t = t;
  const g = Float64Array.from(g0);
  if (h.decoupled) for (let k = 0; k < p.length; k++) p[k] = p[k]! * (1 - h.lr! * h.weightDecay!);
  else for (let k = 0; k < p.length; k++) g[k] = g[k]! + h.weightDecay! * p[k]!;
  const m = (state.m as Float64Array | undefined) ?? new Float64Array(p.length);
  const v = (state.v as Float64Array | undefined) ?? new Float64Array(p.length);
  for (let k = 0; k < p.length; k++) {
    m[k] = h.beta1! * m[k]! + (1 - h.beta1!) * g[k]!;
    v[k] = h.beta2! * v[k]! + (1 - h.beta2!) * g[k]! ** 2;
    const mHat = m[k]! / (1 - h.beta1! ** t);
    const vHat = v[k]! / (1 - h.beta2! ** t);
    p[k] = p[k]! - (h.lr! * mHat) / (Math.sqrt(vHat) + h.eps!);
  }
  state.m = m;
  state.v = v;
};

/**
 * Runs `steps` steps of `opt` on the net and of `rule` on float64 copies fed the same gradients;
 * `hyperOf(name, step)` gives a tensor's hyperparameters at that step (before the step, the test may
 * change group lrs in `beforeStep`). Tolerance: f32 updates of O(1) values, a few ulps per step.
 */
async function expectMatchesReference(net: ReturnType<typeof makeNet>, opt: Optimizer<object>, rule: Rule, hyperOf: (name: string, step: number) => Record<string, number>, steps: number, beforeStep: (step: number) => void = () => {}) {
  const named = [...net.namedParameters()];
  const ref = (await readAll(named.map(([, p]) => p))).map((a) => Float64Array.from(a));
  const states = named.map(() => ({}));
  for (let s = 1; s <= steps; s++) {
    opt.zeroGrad();
    computeGrads(net, 10 + s);
    const grads = await readAll(named.map(([, p]) => p.grad!));
    beforeStep(s);
    opt.step();
    named.forEach(([name], i) => rule(ref[i]!, Float64Array.from(grads[i]!), states[i]!, hyperOf(name, s)));
    const got = await readAll(named.map(([, p]) => p));
    named.forEach(([name], i) => {
      const want = ref[i]!;
      got[i]!.forEach((v, k) => expect(Math.abs(v - want[k]!), `${name}[${k}] step ${s}`).toBeLessThan(2e-6 * Math.max(1, Math.abs(want[k]!))));
    });
    // Keep the reference on the f32 trajectory so errors do not compound.
    ref.forEach((r, i) => r.set(got[i]!));
  }
}

describe('optimizers over parameter groups', () => {
  it('SGD: momentum, nesterov and weight decay in two groups with different lr, one dispatch per step; lr writable', async () => {
    const net = makeNet();
    const opt = new SGD(net, { lr: 0.05, momentum: 0.9, weightDecay: 0.01, groups: [{ params: 'head.*', lr: 0.02, nesterov: true }, { params: '**', dampening: 0.1 }] });
    const spy = vi.spyOn(gpu, 'dispatch');
    let bodyLr = 0.05;
    await expectMatchesReference(
      net,
      opt,
      sgdRule,
      (name) => ({
        lr: name.startsWith('head') ? 0.02 : bodyLr,
        momentum: 0.9,
        dampening: name.startsWith('head') ? 0 : 0.1,
        nesterov: name.startsWith('head') ? 1 : 0,
        weightDecay: name.endsWith('weight') ? 0.01 : 0,
      }),
      3,
      (s) => {
        if (s === 3) opt.paramGroups[1]!.lr = bodyLr = 0.2;
        spy.mockClear();
      },
    );
    spy.mockRestore();
    // The last step alone: exactly one fused dispatch for both groups (reads flush, they do not dispatch).
    opt.zeroGrad();
    computeGrads(net, 99);
    const count = vi.spyOn(gpu, 'dispatch');
    opt.step();
    expect(count).toHaveBeenCalledTimes(1);
    count.mockRestore();
    opt.release();
    net.release();
  });

  it('Adam and AdamW (two groups, 1-D tensors not decayed) equal the float64 update rules', async () => {
    for (const [Kind, decoupled] of [[Adam, 0], [AdamW, 1]] as const) {
      const net = makeNet(3);
      const opt = new Kind(net, { lr: 0.01, weightDecay: 0.1, groups: [{ params: 'body.*', lr: 0.003, betas: [0.8, 0.99] }, { params: '**' }] });
      await expectMatchesReference(
        net,
        opt,
        adamRule,
        (name) => ({
          lr: name.startsWith('body') ? 0.003 : 0.01,
          beta1: name.startsWith('body') ? 0.8 : 0.9,
          beta2: name.startsWith('body') ? 0.99 : 0.999,
          eps: 1e-8,
          weightDecay: name.endsWith('weight') ? 0.1 : 0,
          decoupled,
        }),
        3,
      );
      opt.release();
      net.release();
    }
  });

  it('a frozen parameter is absent from the optimizer and unchanged; release() gives parameters their own storage back', async () => {
    const net = makeNet(5);
    for (const p of net.body.parameters()) p.requiresGrad = false;
    const before = await readAll(net.parameters());
    const opt = new Adam(net, { lr: 0.1 });
    expect(opt.paramGroups[0]!.names).toEqual(['head.weight', 'head.bias']);
    expect(net.body.weight.data.isView).toBe(false);
    expect(net.head.weight.data.isView).toBe(true);
    computeGrads(net, 1);
    opt.step();
    const after = await readAll(net.parameters());
    expect(after[0]).toEqual(before[0]);
    expect(after[1]).toEqual(before[1]);
    expect(after[2]).not.toEqual(before[2]);
    opt.release();
    expect(net.head.weight.data.isView).toBe(false);
    expect(await net.head.weight.read()).toEqual(after[2]);
    expect(() => opt.step()).toThrow(/released/);
    net.release();
  });

  it('clipGradNorm scales to maxNorm when above it, leaves gradients alone below, returns the norm as a [1] tensor', async () => {
    const a = tensor(gpu, [3, 0], [2], { requiresGrad: true });
    const b = tensor(gpu, [0, 4, 0], [3], { requiresGrad: true });
    a.grad = tensor(gpu, [3, 0], [2]);
    b.grad = tensor(gpu, [0, 4, 0], [3]); // global norm 5
    const norm = clipGradNorm([a, b], 1);
    expect(norm.shape).toEqual([1]);
    expect((await norm.read())[0]).toBeCloseTo(5, 6);
    const coef = 1 / (5 + 1e-6);
    const [ga, gb] = await readAll([a.grad!, b.grad!]);
    [...ga!, ...gb!].forEach((v, k) => expect(v).toBeCloseTo([3, 0, 0, 4, 0][k]! * coef, 6));
    const scaledNorm = Math.hypot(...ga!, ...gb!);
    expect(Math.abs(scaledNorm - 1)).toBeLessThan(2e-6);
    norm.release();

    const norm2 = clipGradNorm([a, b], 10); // below: untouched, bit for bit
    expect(await a.grad!.read()).toEqual(ga);
    expect(await b.grad!.read()).toEqual(gb);
    norm2.release();
    a.release();
    b.release();
  });

  it('stateDict / loadStateDict: 3 steps, save, 2 more equals 3 steps, load into a fresh optimizer, 2 more', async () => {
    for (const make of [
      (n: ReturnType<typeof makeNet>) => new AdamW(n, { lr: 0.01, groups: [{ params: 'head.*', lr: 0.02 }, { params: '**' }] }),
      (n: ReturnType<typeof makeNet>) => new SGD(n, { lr: 0.05, momentum: 0.9, nesterov: true, groups: [{ params: 'head.*', lr: 0.02 }, { params: '**' }] }),
    ]) {
      const netA = makeNet(7);
      const optA = make(netA);
      const train = (net: ReturnType<typeof makeNet>, opt: Optimizer<object>, from: number, to: number) => {
        for (let s = from; s < to; s++) {
          opt.zeroGrad();
          computeGrads(net, 20 + s);
          opt.step();
        }
      };
      train(netA, optA, 0, 3);
      optA.paramGroups[1]!.lr = 0.07; // a changed hyperparameter must travel with the state
      const saved = JSON.parse(JSON.stringify(await optA.stateDict(), (_, v) => (v instanceof Float32Array ? [...v] : v)), (k, v) => (k === 'data' ? Float32Array.from(v as number[]) : v));
      const paramsAt3 = await readAll(netA.parameters());
      train(netA, optA, 3, 5);
      const continued = await readAll(netA.parameters());

      const netB = makeNet(11); // different initial values, overwritten by the step-3 parameters
      const optB = make(netB);
      netB.loadStateDict(Object.fromEntries([...netB.namedParameters()].map(([n, p], i) => [n, { data: paramsAt3[i]!, shape: p.shape }])));
      optB.loadStateDict(saved);
      expect(optB.paramGroups[1]!.lr).toBe(0.07);
      train(netB, optB, 3, 5);
      expect(await readAll(netB.parameters())).toEqual(continued);
      for (const x of [optA, optB, netA, netB]) x.release();
    }
  });
});
