/** graftHead and withHead: layer order and names, forward shapes. */
import { Dropout, Linear, noGrad, ReLU, ReLU6, tensor } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { testGpu } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { graftHead, withHead } from './head.js';
import { VGG } from './vgg.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

const names = (m: { namedParameters(): Iterable<[string, unknown]> }) => [...m.namedParameters()].map(([k]) => k);

describe('graftHead', () => {
  it('[Dropout, Linear, act]* then Dropout, Linear(classes)', () => {
    const head = graftHead(gpu, 8, { hidden: [6, 5], activation: 'relu6', dropout: 0.2, classes: 3 });
    expect(head.children().map((m) => m.constructor)).toEqual([Dropout, Linear, ReLU6, Dropout, Linear, ReLU6, Dropout, Linear]);
    expect(names(head)).toEqual(['1.weight', '1.bias', '4.weight', '4.bias', '7.weight', '7.bias']);
    expect(head.at(7).parameters()[0]!.shape).toEqual([3, 5]);
    head.release();
    const plain = graftHead(gpu, 8, { hidden: [4], classes: 2 });
    expect(plain.children().map((m) => m.constructor)).toEqual([Linear, ReLU, Linear]);
    plain.release();
  });

  it('classes 1 gives a single logit; bad options throw', async () => {
    const head = graftHead(gpu, 4, { classes: 1 });
    expect(names(head)).toEqual(['0.weight', '0.bias']);
    const x = tensor(gpu, [1, 2, 3, 4, 5, 6, 7, 8], [2, 4]);
    const y = noGrad(() => head.forward(x));
    expect(y.shape).toEqual([2, 1]);
    y.release();
    x.release();
    head.release();
    expect(() => graftHead(gpu, 4, { classes: 0 })).toThrow(/classes/);
    expect(() => graftHead(gpu, 4, { classes: 2, dropout: 1 })).toThrow(/dropout/);
  });
});

describe('withHead', () => {
  it('names backbone.* and head.*, and chains the forward', async () => {
    const backbone = new VGG(gpu, [4, 'M', 8], { includeTop: false, pooling: 'avg' });
    const model = withHead(backbone, graftHead(gpu, backbone.numFeatures, { hidden: [6], dropout: 0.5, classes: 3 }));
    expect(names(model)).toEqual([
      'backbone.features.0.weight',
      'backbone.features.0.bias',
      'backbone.features.3.weight',
      'backbone.features.3.bias',
      'head.1.weight',
      'head.1.bias',
      'head.4.weight',
      'head.4.bias',
    ]);
    model.eval();
    const x = tensor(gpu, Float32Array.from({ length: 2 * 6 * 6 * 3 }, (_, i) => Math.cos(i)), [2, 6, 6, 3]);
    const y = noGrad(() => model.forward(x));
    expect(y.shape).toEqual([2, 3]);
    expect((await y.read()).every(Number.isFinite)).toBe(true);
    y.release();
    x.release();
    model.release();
  });
});
