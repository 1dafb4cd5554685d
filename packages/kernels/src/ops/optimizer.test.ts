import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { GpuTensor, type HostTensor } from '../runtime/tensor.js';
import { expectClose, hostTensor, loadFixture, randomTensor, testGpu, type FixtureCase } from '../testing/index.js';
import { adamHost, adamStep, type AdamOptions } from './adam.js';
import { adamStepRef, sgdStepRef } from './optimizer.ref.js';
import { arenaAlignmentBytes, arenaLayout, chunkElements, createArena, writeArena, type Arena } from './optimizerStep.js';
import { sgdHost, sgdStep, type SgdOptions } from './sgd.js';

// Each step is a handful of f32 roundings per element (a few ulp, 6e-8 relative each), compounded
// over 3 steps on values of order 1: parameters agree with float64 to ~1e-6 relative. The momentum
// buffer and m are sums of order-1 terms (grad + weight_decay * param) that can cancel, so their
// error is a few ulp of 1 in absolute terms. v ~ (1 - beta2) g^2 is ~1e-4, so its atol is scaled
// down by 1 - beta2: rounding 1 - beta2 in f32 (1.3e-5 relative) must fail this.
const paramTolerance = { rtol: 2e-6, atol: 1e-6 };
const stateTolerance = { rtol: 2e-6, atol: 3e-7 };
const secondMomentTolerance = { rtol: 2e-6, atol: 1e-10 };
// The reference and PyTorch both compute in float64 from the same formulas; only operation order differs.
const float64Tolerance = { rtol: 1e-12, atol: 1e-14 };

// Odd sizes; 9000 spans three 4096-element chunks (chunkElements), the last one partial.
const sizes = [1, 3, 1000, 257, 9000];
const steps = 3;

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => vi.restoreAllMocks());

function randomGrads(seed: number): HostTensor[][] {
  return Array.from({ length: steps }, (_, s) => sizes.map((n, i) => randomTensor(seed + 100 * s + i, [n])));
}

describe('arena layout', () => {
  it('puts every tensor at a 256-byte-aligned offset, with no overlap', () => {
    expect(Math.ceil(9000 / chunkElements)).toBe(3);
    const layout = arenaLayout(sizes.map((n) => [n]));
    expect(layout.byteOffsets).toEqual([0, 256, 512, 4608, 5888]);
    expect(layout.byteLength).toBe(5888 + 36096);
    for (const offset of layout.byteOffsets) expect(offset % arenaAlignmentBytes).toBe(0);
  });

  it('creates zeroed views that other kernels can bind and read on their own', async () => {
    const arena = createArena(gpu, [[3], [2, 2]]);
    expect(Array.from(await gpu.read(arena.views[1]!))).toEqual([0, 0, 0, 0]);
    writeArena(gpu, arena, [[1, 2, 3], [4, 5, 6, 7]]);
    expect(Array.from(await gpu.read(arena.views[1]!))).toEqual([4, 5, 6, 7]);
    expect(Array.from(await gpu.read(arena.views[0]!))).toEqual([1, 2, 3]);
    gpu.release(arena.whole);
  });
});

describe('sgd: one dispatch, per-tensor hyperparameters, vs reference', () => {
  const options: SgdOptions[] = [
    { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 },
    { lr: 0.05, weightDecay: 0.01 }, // no momentum: its momentum buffer is untouched
    { lr: 0.01, momentum: 0.5, dampening: 0.25 },
    { lr: 0.2, momentum: 0.9 },
    { lr: 0.03, momentum: 0.8, nesterov: true, weightDecay: 0.1 },
  ];

  it(`${steps} steps over sizes ${sizes.join(', ')}`, async () => {
    const params = sizes.map((n, i) => randomTensor(i + 1, [n]));
    const grads = randomGrads(50);
    const dispatch = vi.spyOn(gpu, 'dispatch');
    const got = await sgdHost(gpu, params.map((param, i) => ({ param, options: options[i]! })), grads);
    expect(dispatch).toHaveBeenCalledTimes(steps); // one per step, for all five tensors
    dispatch.mockRestore();

    let want: { param: Float64Array; momentumBuffer: Float64Array | null }[] = params.map((p) => ({ param: Float64Array.from(p.data), momentumBuffer: null }));
    for (let s = 0; s < steps; s++) {
      want = want.map((w, i) => sgdStepRef(w.param, grads[s]![i]!.data, w.momentumBuffer, options[i]!));
      want.forEach((w, i) => {
        expectClose(got[s]!.params[i]!, w.param, paramTolerance, `step ${s + 1} param ${i}`);
        if (w.momentumBuffer) expectClose(got[s]!.state.momentumBuffer[i]!, w.momentumBuffer, stateTolerance, `step ${s + 1} buf ${i}`);
        else expect(got[s]!.state.momentumBuffer[i]!.every((v) => v === 0)).toBe(true);
      });
    }
  });
});

describe('sgd without momentum on any tensor (no momentum arena bound)', () => {
  it('matches the reference', async () => {
    const options: SgdOptions[] = sizes.map((_, i) => ({ lr: 0.1 / (i + 1), weightDecay: i % 2 ? 0.01 : 0 }));
    const params = sizes.map((n, i) => randomTensor(i + 30, [n]));
    const grads = randomGrads(60);
    const got = await sgdHost(gpu, params.map((param, i) => ({ param, options: options[i]! })), grads);
    let want = params.map((p) => Float64Array.from(p.data) as Float64Array);
    for (let s = 0; s < steps; s++) {
      want = want.map((p, i) => sgdStepRef(p, grads[s]![i]!.data, null, options[i]!).param);
      want.forEach((p, i) => expectClose(got[s]!.params[i]!, p, paramTolerance, `step ${s + 1} param ${i}`));
    }
  });
});

describe('adam / adamw: one dispatch mixing both, per-tensor hyperparameters, vs reference', () => {
  const options: AdamOptions[] = [
    { lr: 1e-2, weightDecay: 1e-4 },
    { lr: 1e-3, decoupledWeightDecay: true, weightDecay: 0.1 },
    { lr: 3e-3, betas: [0.8, 0.99], eps: 1e-6 },
    { lr: 1e-2, decoupledWeightDecay: true },
    { lr: 5e-4, betas: [0.5, 0.9], weightDecay: 0.01 },
  ];

  it(`${steps} steps over sizes ${sizes.join(', ')}`, async () => {
    const params = sizes.map((n, i) => randomTensor(i + 7, [n]));
    const grads = randomGrads(80);
    const dispatch = vi.spyOn(gpu, 'dispatch');
    const got = await adamHost(gpu, params.map((param, i) => ({ param, options: options[i]! })), grads);
    expect(dispatch).toHaveBeenCalledTimes(steps);
    dispatch.mockRestore();

    let want: { param: Float64Array; expAvg: Float64Array; expAvgSq: Float64Array }[] = params.map((p) => ({ param: Float64Array.from(p.data), expAvg: new Float64Array(p.data.length), expAvgSq: new Float64Array(p.data.length) }));
    for (let s = 0; s < steps; s++) {
      want = want.map((w, i) => adamStepRef(w.param, grads[s]![i]!.data, w.expAvg, w.expAvgSq, s + 1, options[i]!));
      want.forEach((w, i) => {
        expectClose(got[s]!.params[i]!, w.param, paramTolerance, `step ${s + 1} param ${i}`);
        expectClose(got[s]!.state.expAvg[i]!, w.expAvg, stateTolerance, `step ${s + 1} m ${i}`);
        expectClose(got[s]!.state.expAvgSq[i]!, w.expAvgSq, secondMomentTolerance, `step ${s + 1} v ${i}`);
      });
    }
  });

  it('tensors at different steps share a dispatch (a group added later)', async () => {
    const shapes = [[5], [9]];
    const [param, grad, m, v] = [0, 1, 2, 3].map(() => createArena(gpu, shapes)) as [Arena, Arena, Arena, Arena];
    const p0 = shapes.map((s, i) => randomTensor(200 + i, s));
    const g = shapes.map((s, i) => randomTensor(210 + i, s));
    writeArena(gpu, param, p0.map((p) => p.data));
    writeArena(gpu, grad, g.map((t) => t.data));
    // Tensor 0 takes its 4th step from given moments, tensor 1 its first.
    const m0 = randomTensor(220, [5], -0.1, 0.1).data;
    const v0 = randomTensor(221, [5], 0, 0.01).data;
    writeArena(gpu, m, [m0, new Float32Array(9)]);
    writeArena(gpu, v, [v0, new Float32Array(9)]);
    const opts: AdamOptions = { lr: 1e-2 };
    adamStep(gpu, [0, 1].map((i) => ({ param: param.views[i]!, grad: grad.views[i]!, expAvg: m.views[i]!, expAvgSq: v.views[i]!, step: i === 0 ? 4 : 1, options: opts })));
    const want0 = adamStepRef(p0[0]!.data, g[0]!.data, m0, v0, 4, opts);
    const want1 = adamStepRef(p0[1]!.data, g[1]!.data, new Float64Array(9), new Float64Array(9), 1, opts);
    expectClose(await gpu.read(param.views[0]!), want0.param, paramTolerance, 'tensor 0');
    expectClose(await gpu.read(param.views[1]!), want1.param, paramTolerance, 'tensor 1');
    gpu.release(param.whole, grad.whole, m.whole, v.whole);
  });
});

describe('arenas larger than one binding (maxStorageBufferBindingSize) step in several dispatches', () => {
  // A limit of two chunks: the 3-chunk tensor is cut between dispatches, small tensors share one.
  const limit = 2 * chunkElements * 4;
  const shapes = [[7], [3 * chunkElements - 5], [9], [chunkElements + 1], [4]];

  /** [split, unsplit, before]: every arena after a split step, after an unsplit one, and as first written. */
  async function runBoth(step: (arenas: Arena[], maxBytes: number) => void, arenaCount: number): Promise<Float32Array[][]> {
    const results: Float32Array[][] = [];
    for (const maxBytes of [limit, gpu.limits.maxStorageBufferBindingSize, null]) {
      const arenas = Array.from({ length: arenaCount }, () => createArena(gpu, shapes));
      arenas.forEach((arena, a) => writeArena(gpu, arena, shapes.map((s, i) => randomTensor(300 + 10 * a + i, s, a === 3 ? 0 : -1, 1).data)));
      if (maxBytes !== null) step(arenas, maxBytes);
      results.push(await Promise.all(arenas.map((arena) => gpu.read(arena.whole))));
      gpu.release(...arenas.map((arena) => arena.whole));
    }
    return results;
  }

  it('Adam: split and unsplit give the same bits', async () => {
    const [split, whole, before] = await runBoth(([param, grad, m, v], maxBytes) => {
      const tensors = shapes.map((_, i) => ({ param: param!.views[i]!, grad: grad!.views[i]!, expAvg: m!.views[i]!, expAvgSq: v!.views[i]!, step: 2, options: { lr: 1e-2, weightDecay: i % 2 ? 0.1 : 0 } }));
      adamStep(gpu, tensors, maxBytes);
    }, 4);
    split!.forEach((arena, a) => expect(arena).toEqual(whole![a]));
    // It did update: the parameters and both moments moved, in every tensor of the layout.
    for (const a of [0, 2, 3]) expect(split![a]).not.toEqual(before![a]);
  });

  it('SGD with momentum: split and unsplit give the same bits', async () => {
    const [split, whole, before] = await runBoth(([param, grad, buf], maxBytes) => {
      const tensors = shapes.map((_, i) => ({ param: param!.views[i]!, grad: grad!.views[i]!, momentumBuffer: buf!.views[i]!, step: 3, options: { lr: 0.1, momentum: 0.9 } }));
      sgdStep(gpu, tensors, maxBytes);
    }, 3);
    split!.forEach((arena, a) => expect(arena).toEqual(whole![a]));
    expect(split![0]).not.toEqual(before![0]);
  });

  it('each dispatch binds at most the limit', async () => {
    const [param, grad] = [createArena(gpu, shapes), createArena(gpu, shapes)];
    const bound: number[] = [];
    const dispatch = gpu.dispatch.bind(gpu);
    const spy = vi.spyOn(gpu, 'dispatch').mockImplementation((kernel, spec) => {
      bound.push(...spec.bindings.slice(2).map((t) => t.byteLength));
      dispatch(kernel, spec);
    });
    try {
      sgdStep(gpu, shapes.map((_, i) => ({ param: param.views[i]!, grad: grad.views[i]!, step: 1, options: { lr: 0.1 } })), limit);
    } finally {
      spy.mockRestore();
    }
    expect(bound.length).toBeGreaterThan(4); // several dispatches
    expect(Math.max(...bound)).toBeLessThanOrEqual(limit);
    await gpu.sync();
    gpu.release(param.whole, grad.whole);
  });
});

describe('PyTorch goldens (torch.optim, float64, two parameter groups, 3 steps)', () => {
  const fixture = loadFixture('optimizers');
  const tensorsOf = (c: FixtureCase) => [0, 1, 2, 3].map((i) => hostTensor(c.inputs[`param.${i}`]!));
  const gradsOf = (c: FixtureCase) => Array.from({ length: steps }, (_, s) => [0, 1, 2, 3].map((i) => hostTensor(c.inputs[`grad.${s + 1}.${i}`]!)));
  const groupOf = (c: FixtureCase, i: number) => (c.attrs.groups as Record<string, unknown>[])[(c.attrs.groupOfTensor as number[])[i]!]!;

  function sgdOptions(c: FixtureCase, i: number): SgdOptions {
    const g = groupOf(c, i) as { lr: number; momentum: number; dampening: number; weight_decay: number; nesterov: boolean };
    return { lr: g.lr, momentum: g.momentum, dampening: g.dampening, weightDecay: g.weight_decay, nesterov: g.nesterov };
  }
  function adamOptions(c: FixtureCase, i: number): AdamOptions {
    const g = groupOf(c, i) as { lr: number; betas: [number, number]; eps: number; weight_decay: number };
    return { lr: g.lr, betas: g.betas, eps: g.eps, weightDecay: g.weight_decay, decoupledWeightDecay: c.attrs.optimizer === 'AdamW' };
  }
  const golden = (c: FixtureCase, key: string) => c.outputs[key]!.data;

  for (const c of fixture.cases) {
    const isSgd = c.attrs.optimizer === 'SGD';
    const stateNames = isSgd ? ['momentumBuffer'] : ['expAvg', 'expAvgSq'];

    it(`${c.name}: reference matches PyTorch in float64`, () => {
      const grads = gradsOf(c);
      for (let i = 0; i < 4; i++) {
        const p = tensorsOf(c)[i]!.data;
        let state: Record<string, Float64Array | null> = isSgd ? { momentumBuffer: null } : { expAvg: new Float64Array(p.length), expAvgSq: new Float64Array(p.length) };
        let param: Float64Array = Float64Array.from(p);
        for (let s = 0; s < steps; s++) {
          const g = grads[s]![i]!.data;
          if (isSgd) {
            const r = sgdStepRef(param, g, state.momentumBuffer!, sgdOptions(c, i));
            param = r.param;
            state = { momentumBuffer: r.momentumBuffer };
          } else {
            const r = adamStepRef(param, g, state.expAvg!, state.expAvgSq!, s + 1, adamOptions(c, i));
            param = r.param;
            state = { expAvg: r.expAvg, expAvgSq: r.expAvgSq };
          }
          expectClose(param, golden(c, `param.${s + 1}.${i}`), float64Tolerance, `step ${s + 1} param ${i}`);
          for (const name of stateNames) expectClose(state[name]!, golden(c, `${name}.${s + 1}.${i}`), float64Tolerance, `step ${s + 1} ${name} ${i}`);
        }
      }
    });

    it(`${c.name}: kernel matches PyTorch after each step, both groups in one dispatch`, async () => {
      const params = tensorsOf(c);
      const got = isSgd
        ? await sgdHost(gpu, params.map((param, i) => ({ param, options: sgdOptions(c, i) })), gradsOf(c))
        : await adamHost(gpu, params.map((param, i) => ({ param, options: adamOptions(c, i) })), gradsOf(c));
      for (let s = 0; s < steps; s++) {
        for (let i = 0; i < 4; i++) {
          expectClose(got[s]!.params[i]!, golden(c, `param.${s + 1}.${i}`), paramTolerance, `step ${s + 1} param ${i}`);
          const state = got[s]!.state as Record<string, Float32Array[]>;
          for (const name of stateNames) expectClose(state[name]![i]!, golden(c, `${name}.${s + 1}.${i}`), name === 'expAvgSq' ? secondMomentTolerance : stateTolerance, `step ${s + 1} ${name} ${i}`);
        }
      }
    });
  }
});

describe('optimizers reject bad arguments before dispatch', () => {
  const shapes = [[4], [6]];
  let param: Arena, grad: Arena, buf: Arena;
  beforeAll(() => {
    [param, grad, buf] = [createArena(gpu, shapes), createArena(gpu, shapes), createArena(gpu, shapes)];
  });
  afterAll(() => gpu.release(param.whole, grad.whole, buf.whole));
  const sgdTensors = (options: SgdOptions) => [0, 1].map((i) => ({ param: param.views[i]!, grad: grad.views[i]!, momentumBuffer: buf.views[i]!, step: 1, options }));
  const adamTensors = (options: AdamOptions) => [0, 1].map((i) => ({ param: param.views[i]!, grad: grad.views[i]!, expAvg: buf.views[i]!, expAvgSq: grad.views[i]!, step: 1, options }));

  function expectRejected(run: () => void, message: RegExp) {
    const dispatch = vi.spyOn(gpu, 'dispatch');
    expect(run).toThrow(KernelArgumentError);
    expect(run).toThrow(message);
    expect(dispatch).not.toHaveBeenCalled();
    dispatch.mockRestore();
  }

  it('a tensor that is not in the arena', () => {
    const loose = gpu.allocate([6]);
    const tensors = sgdTensors({ lr: 0.1 });
    tensors[1]!.grad = loose;
    expectRejected(() => sgdStep(gpu, tensors), /tensors\[1\]\.grad' expected a view into the same buffer as tensors\[0\]\.grad: every tensor must be a view into the same arena/);
    gpu.release(loose);
  });

  it('a gradient at another offset than its parameter', () => {
    const tensors = sgdTensors({ lr: 0.1 });
    tensors[0]!.grad = new GpuTensor(grad.whole.buffer, [4], 'f32', 512);
    expectRejected(() => sgdStep(gpu, tensors), /tensors\[0\]\.grad' expected byteOffset 0/);
  });

  it('param and grad of different shapes', () => {
    const tensors = sgdTensors({ lr: 0.1 });
    tensors[0]!.grad = new GpuTensor(grad.whole.buffer, [5], 'f32', 0);
    expectRejected(() => sgdStep(gpu, tensors), /tensors\[0\]\.grad' expected shape \[4\] \(the parameter's\), found \[5\]/);
  });

  it('the same tensor twice, and param and grad in one buffer', () => {
    const twice = [...sgdTensors({ lr: 0.1 }), sgdTensors({ lr: 0.1 })[0]!];
    expectRejected(() => sgdStep(gpu, twice), /no overlap/);
    const aliased = sgdTensors({ lr: 0.1 }).map((t) => ({ ...t, grad: t.param }));
    expectRejected(() => sgdStep(gpu, aliased), /argument 'grad' expected an arena separate from the param arena/);
  });

  it('nesterov without momentum, or with dampening', () => {
    expectRejected(() => sgdStep(gpu, sgdTensors({ lr: 0.1, nesterov: true })), /nesterov' expected momentum > 0 and dampening = 0/);
    expectRejected(() => sgdStep(gpu, sgdTensors({ lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })), /nesterov/);
  });

  it('momentum without a momentum buffer', () => {
    const tensors = sgdTensors({ lr: 0.1, momentum: 0.9 }).map((t) => ({ ...t, momentumBuffer: undefined }));
    expectRejected(() => sgdStep(gpu, tensors), /momentumBuffer' expected a tensor/);
  });

  it('negative learning rate', () => {
    expectRejected(() => sgdStep(gpu, sgdTensors({ lr: -0.1 })), /options\.lr' expected a number in \[0, Infinity\), found -0\.1/);
    expectRejected(() => adamStep(gpu, adamTensors({ lr: -1e-3 })), /options\.lr'/);
  });

  it('betas outside [0, 1)', () => {
    expectRejected(() => adamStep(gpu, adamTensors({ betas: [1, 0.999] })), /options\.betas\[0\]' expected a number in \[0, 1\), found 1/);
    expectRejected(() => adamStep(gpu, adamTensors({ betas: [0.9, -0.1] })), /options\.betas\[1\]'/);
  });

  it('a step count below 1 and an empty tensor list', () => {
    expectRejected(() => adamStep(gpu, adamTensors({}).map((t) => ({ ...t, step: 0 }))), /step' expected a positive integer/);
    expectRejected(() => sgdStep(gpu, []), /expected at least one tensor/);
  });
});
