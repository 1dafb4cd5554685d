import { createGpu, type Gpu } from '@graft/kernels';
import { randomArray } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensor } from '../create.js';
import { AutogradError, ReleasedTensorError } from '../errors.js';
import { noGrad } from '../tape.js';
import type { Tensor } from '../tensor.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool, Linear, ReLU, Sequential } from './layers.js';
import { Module } from './module.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await createGpu();
});

/** A torchvision-shaped toy: a stem, a Sequential of blocks, a head. */
class Block extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  constructor(c: number, seed: number) {
    super();
    this.conv1 = new Conv2d(gpu, c, c, 3, { padding: 'same', bias: false, seed });
    this.bn1 = new BatchNorm2d(gpu, c);
  }
  forward(x: Tensor): Tensor {
    return this.bn1.forward(this.conv1.forward(x));
  }
}

class Net extends Module {
  conv1: Conv2d;
  layer1: Sequential;
  fc: Linear;
  constructor(seed = 1) {
    super();
    this.conv1 = new Conv2d(gpu, 2, 3, 3, { padding: 'same', seed });
    this.layer1 = new Sequential(new Block(3, seed + 1), new ReLU(), new Block(3, seed + 2));
    this.fc = new Linear(gpu, 3, 4, { seed: seed + 3 });
  }
  forward(x: Tensor): Tensor {
    return this.fc.forward(new GlobalAvgPool().forward(this.layer1.forward(this.conv1.forward(x))));
  }
}

describe('Module', () => {
  it('names parameters and buffers by PyTorch dotted paths', () => {
    const net = new Net();
    expect([...net.namedParameters()].map(([n]) => n)).toEqual([
      'conv1.weight',
      'conv1.bias',
      'layer1.0.conv1.weight',
      'layer1.0.bn1.weight',
      'layer1.0.bn1.bias',
      'layer1.2.conv1.weight',
      'layer1.2.bn1.weight',
      'layer1.2.bn1.bias',
      'fc.weight',
      'fc.bias',
    ]);
    expect([...net.namedBuffers()].map(([n]) => n)).toEqual([
      'layer1.0.bn1.running_mean',
      'layer1.0.bn1.running_var',
      'layer1.0.bn1.num_batches_tracked',
      'layer1.2.bn1.running_mean',
      'layer1.2.bn1.running_var',
      'layer1.2.bn1.num_batches_tracked',
    ]);
    expect(net.parameters().every((p) => p.requiresGrad)).toBe(true);
    expect([...net.namedBuffers()].every(([, b]) => !b.requiresGrad)).toBe(true);
    expect(net.fc.weight.shape).toEqual([4, 3]); // PyTorch's [out, in]
    expect(net.conv1.weight.shape).toEqual([3, 3, 2, 3]); // HWIO
    net.release();
  });

  it('train()/eval() set training recursively', () => {
    const net = new Net();
    net.eval();
    expect([...net.namedModules()].every(([, m]) => !m.training)).toBe(true);
    net.train();
    expect([...net.namedModules()].every(([, m]) => m.training)).toBe(true);
    net.release();
  });

  it('round-trips a state dict: a fresh module loaded from it gives identical outputs', async () => {
    const a = new Net(1);
    // A training step's worth of running statistics, so buffers differ from their initial values.
    const batch = tensor(gpu, randomArray(5, 2 * 5 * 5 * 2), [2, 5, 5, 2]);
    noGrad(() => a.forward(batch)).release();
    batch.release();
    a.eval();
    const x = tensor(gpu, randomArray(3, 2 * 5 * 5 * 2), [2, 5, 5, 2]);
    const run = async (m: Net) => {
      const y = noGrad(() => m.forward(x));
      const values = await y.read();
      y.release();
      return Array.from(values);
    };
    const expected = await run(a);

    // From Tensors (GPU copies) ...
    const b = new Net(100).eval();
    expect(await run(b)).not.toEqual(expected);
    expect(b.loadStateDict(a.stateDict())).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(await run(b)).toEqual(expected);

    // ... and from host data (what a checkpoint reader gives).
    const host: Record<string, { data: Float32Array; shape: readonly number[] }> = {};
    for (const [name, t] of Object.entries(a.stateDict())) host[name] = { data: await t.read(), shape: t.shape };
    const c = new Net(200).eval();
    c.loadStateDict(host);
    expect(await run(c)).toEqual(expected);
    for (const m of [a, b, c]) m.release();
    x.release();
  });

  it('strict loading lists every missing, unexpected and mis-shaped key', async () => {
    const net = new Net();
    const state: Record<string, Tensor | { data: Float32Array; shape: number[] }> = { ...net.stateDict() };
    delete state['fc.bias'];
    delete state['layer1.2.bn1.running_var'];
    state['fc.extra'] = { data: new Float32Array(1), shape: [1] };
    state['conv1.weight'] = { data: new Float32Array(18), shape: [3, 3, 2, 1] };
    let message = '';
    try {
      net.loadStateDict(state);
    } catch (e) {
      expect(e).toBeInstanceOf(AutogradError);
      message = (e as Error).message;
    }
    expect(message).toContain('missing keys (2): layer1.2.bn1.running_var, fc.bias');
    expect(message).toContain('unexpected keys (1): fc.extra');
    expect(message).toContain('conv1.weight: expected [3, 3, 2, 3], found [3, 3, 2, 1]');

    // Non-strict (Keras' skip_mismatch): loads what fits, skips and reports the mis-shaped tensor.
    const conv1Before = await net.conv1.weight.read();
    expect(net.loadStateDict(state, { strict: false })).toEqual({
      missingKeys: ['layer1.2.bn1.running_var', 'fc.bias'],
      unexpectedKeys: ['fc.extra'],
      misShapedKeys: ['conv1.weight: expected [3, 3, 2, 3], found [3, 3, 2, 1]'],
    });
    expect(await net.conv1.weight.read()).toEqual(conv1Before);
    state['conv1.weight'] = net.conv1.weight;
    expect(net.loadStateDict(state, { strict: false })).toEqual({ missingKeys: ['layer1.2.bn1.running_var', 'fc.bias'], unexpectedKeys: ['fc.extra'] });
    net.release();
  });

  it('accepts PyTorch scalar buffers ([]) for [1] ones', () => {
    const bn = new BatchNorm2d(gpu, 2);
    const state = { ...bn.stateDict(), num_batches_tracked: { data: new Float32Array([7]), shape: [] } };
    expect(bn.loadStateDict(state)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    bn.release();
  });

  it('release() frees every parameter and buffer', () => {
    const net = new Net();
    const all = Object.values(net.stateDict());
    net.release();
    expect(all.every((t) => t.released)).toBe(true);
    expect(() => net.fc.weight.data).toThrow(ReleasedTensorError);
  });
});
