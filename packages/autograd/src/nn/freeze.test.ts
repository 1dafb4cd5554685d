import { createGpu, type Gpu } from '@graft/kernels';
import { randomArray } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensor } from '../create.js';
import { AutogradError } from '../errors.js';
import { softmaxCrossEntropy } from '../ops/loss.js';
import { backward } from '../tape.js';
import { freeze, freezeAllButLast, freezeByName, globToRegExp, unfreeze } from './freeze.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool, Linear, ReLU, Sequential } from './layers.js';
import type { Module } from './module.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await createGpu();
});

/** torchvision-like names: features.0.0.weight, features.0.1.weight, ..., classifier.1.weight. */
function makeNet(): Sequential & { features: Sequential; classifier: Sequential } {
  const convBn = (cIn: number, cOut: number, seed: number) =>
    new Sequential(new Conv2d(gpu, cIn, cOut, 3, { padding: 'same', bias: false, seed }), new BatchNorm2d(gpu, cOut), new ReLU());
  const net = new Sequential() as Sequential & { features: Sequential; classifier: Sequential };
  net.registerModule('features', new Sequential(convBn(2, 4, 1), convBn(4, 4, 2), convBn(4, 4, 3), new GlobalAvgPool()));
  net.registerModule('classifier', new Sequential(new ReLU(), new Linear(gpu, 4, 3, { seed: 4 })));
  return net;
}

const trainable = (m: Module) => [...m.namedParameters()].filter(([, p]) => p.requiresGrad).map(([n]) => n);

describe('freezing', () => {
  it('globs: * stays within a segment, ** crosses segments', () => {
    expect(globToRegExp('features.*.0.weight').test('features.1.0.weight')).toBe(true);
    expect(globToRegExp('features.*.weight').test('features.1.0.weight')).toBe(false);
    expect(globToRegExp('features.**.weight').test('features.1.0.weight')).toBe(true);
    expect(globToRegExp('features.**').test('classifier.1.weight')).toBe(false);
  });

  it('freezeByName with a glob and a RegExp; a pattern matching nothing throws naming it', () => {
    const net = makeNet();
    expect(freezeByName(net, 'features.0.**')).toEqual(['features.0.0.weight', 'features.0.1.weight', 'features.0.1.bias']);
    expect(freezeByName(net, /^features\.\d+\.1\./)).toEqual([
      'features.0.1.weight',
      'features.0.1.bias',
      'features.1.1.weight',
      'features.1.1.bias',
      'features.2.1.weight',
      'features.2.1.bias',
    ]);
    expect(trainable(net)).toEqual(['features.1.0.weight', 'features.2.0.weight', 'classifier.1.weight', 'classifier.1.bias']);
    expect(() => freezeByName(net, 'layer4.**')).toThrow(AutogradError);
    expect(() => freezeByName(net, 'layer4.**')).toThrow(/layer4\.\*\*/);
    unfreeze(net);
    expect(trainable(net)).toHaveLength(net.parameters().length);
    net.release();
  });

  it('freezeAllButLast freezes all blocks but the last n (the Keras layers[:-n] workflow), BN optionally frozen too', () => {
    const net = makeNet();
    const frozen = freezeAllButLast(net.features, 2, { blocks: (m) => m.children(), bnMode: 'frozen' });
    expect(frozen).toHaveLength(2);
    expect(trainable(net)).toEqual(['features.2.0.weight', 'features.2.1.weight', 'features.2.1.bias', 'classifier.1.weight', 'classifier.1.bias']);
    const bns = [...net.namedModules()].filter(([, m]) => m instanceof BatchNorm2d).map(([n, m]) => [n, (m as BatchNorm2d).bnMode]);
    expect(bns).toEqual([
      ['features.0.1', 'frozen'],
      ['features.1.1', 'frozen'],
      ['features.2.1', null],
    ]);
    expect(() => freezeAllButLast(net.features, 5, { blocks: (m) => m.children() })).toThrow(/n must be an integer in \[0, 4\]/);
    net.release();
  });

  it('a frozen parameter gets no gradient after backward; the others do', async () => {
    const net = makeNet();
    freeze(net.parameters().filter((_, i) => i < 3)); // features.0.*
    freezeByName(net, 'classifier.1.bias');
    const x = tensor(gpu, randomArray(1, 2 * 4 * 4 * 2), [2, 4, 4, 2]);
    backward(softmaxCrossEntropy(net.forward(x), new Uint32Array([0, 2])));
    const withGrad = [...net.namedParameters()].filter(([, p]) => p.grad !== null).map(([n]) => n);
    expect(withGrad).toEqual(['features.1.0.weight', 'features.1.1.weight', 'features.1.1.bias', 'features.2.0.weight', 'features.2.1.weight', 'features.2.1.bias', 'classifier.1.weight']);
    net.release();
    x.release();
  });
});

describe('freezing batch norms', () => {
  it("puts the batch norms it freezes entirely in 'frozen' mode, which survives train(); others are left alone", async () => {
    const net = makeNet();
    const features = net.features;
    const bn = (i: number) => (features.at(i) as Sequential).at(1) as BatchNorm2d;
    freezeByName(net, 'features.0.**');
    freeze(features.at(1)!, { bnMode: 'affine' });
    expect(bn(0).bnMode).toBe('frozen');
    expect(bn(1).bnMode).toBe('affine');
    expect(bn(2).bnMode).toBeNull(); // not frozen: follows train()/eval()
    freeze(features.at(2)!);
    expect(bn(2).bnMode).toBe('frozen');

    net.train();
    const before = await bn(2).runningMean.read();
    const x = tensor(gpu, randomArray(21, 2 * 5 * 5 * 2), [2, 5, 5, 2]);
    const loss = softmaxCrossEntropy(net.forward(x), new Uint32Array([0, 2]));
    backward(loss);
    expect(Array.from(await bn(2).runningMean.read())).toEqual(Array.from(before));
    loss.release();
    x.release();
    net.release();
  });
});
