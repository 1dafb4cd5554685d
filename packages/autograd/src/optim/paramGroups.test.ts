import { createGpu, type Gpu } from '@graft/kernels';
import { beforeAll, describe, expect, it } from 'vitest';
import { AutogradError } from '../errors.js';
import { BatchNorm2d, Linear, Sequential } from '../nn/layers.js';
import { decaysWeight, layerwiseLrGroups, resolveParamGroups } from './paramGroups.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await createGpu();
});

/** Names: body.0.weight, body.0.bias, body.1.weight (BN gamma), body.1.bias, head.weight, head.bias. */
function makeNet() {
  const net = new Sequential() as Sequential & { body: Sequential; head: Linear };
  net.registerModule('body', new Sequential(new Linear(gpu, 3, 4, { seed: 1 }), new BatchNorm2d(gpu, 4)));
  net.registerModule('head', new Linear(gpu, 4, 2, { seed: 2 }));
  return net;
}

const defaults = { lr: 0.1, weightDecay: 1e-4, momentum: 0.9 };

describe('resolveParamGroups', () => {
  it('fills defaults per group; a group overrides; the catch-all takes the rest, wherever it is listed', () => {
    const net = makeNet();
    const groups = resolveParamGroups(net, [{ params: '**', name: 'rest' }, { params: 'head.*', lr: 1e-3 }, { params: [net.body.at(1).parameters()[0]!], momentum: 0 }], defaults);
    expect(groups.map((g) => g.name)).toEqual(['rest', 'head.*', 'groups[2]']);
    expect(groups[0]!.names).toEqual(['body.0.weight', 'body.0.bias', 'body.1.bias']);
    expect(groups[0]).toMatchObject({ lr: 0.1, weightDecay: 1e-4, momentum: 0.9, weightDecayOneDimensional: false });
    expect(groups[1]).toMatchObject({ lr: 1e-3, weightDecay: 1e-4, momentum: 0.9, names: ['head.weight', 'head.bias'] });
    expect(groups[2]).toMatchObject({ lr: 0.1, momentum: 0, names: ['body.1.weight'] });
    expect(groups[1]!.params).toEqual([net.head.weight, net.head.bias]);
    // No groups: one group of every parameter.
    expect(resolveParamGroups(net, undefined, defaults)[0]!.params).toHaveLength(6);
    net.release();
  });

  it('names the parameter and both groups on overlap; names a pattern that matches nothing; rejects unknown hyperparameters', () => {
    const net = makeNet();
    expect(() => resolveParamGroups(net, [{ params: 'head.*', name: 'a' }, { params: /weight$/, name: 'b' }], defaults)).toThrow(
      /parameter head\.weight is in two groups: a and b/,
    );
    expect(() => resolveParamGroups(net, [{ params: ['head.*', 'neck.*'] }], defaults)).toThrow(/pattern 'neck\.\*' of group groups\[0\] matches no parameter/);
    expect(() => resolveParamGroups(net, [{ params: 'head.*', betas: [0.9, 0.99] }], defaults)).toThrow(/sets betas, which this optimizer does not have/);
    expect(() => resolveParamGroups(net, [{ params: '**' }, { params: '**' }], defaults)).toThrow(AutogradError);
    net.release();
  });

  it('skips frozen parameters; a pattern matching only frozen ones is fine; a frozen group freezes by requiresGrad', () => {
    const net = makeNet();
    for (const p of net.head.parameters()) p.requiresGrad = false;
    const groups = resolveParamGroups(net, [{ params: 'head.*', lr: 1 }, { params: '**' }], defaults);
    expect(groups[0]!.params).toEqual([]);
    expect(groups[1]!.names).toEqual(['body.0.weight', 'body.0.bias', 'body.1.weight', 'body.1.bias']);

    // head=1e-3, body.0=1e-4, rest=frozen as data.
    for (const p of net.head.parameters()) p.requiresGrad = true;
    const cli = resolveParamGroups(net, [{ params: 'head.*', lr: 1e-3 }, { params: 'body.0.*', lr: 1e-4 }, { params: '**', frozen: true }], defaults);
    expect(cli.map((g) => [g.lr, g.names.length])).toEqual([[1e-3, 2], [1e-4, 2]]);
    expect(net.body.at(1).parameters().map((p) => p.requiresGrad)).toEqual([false, false]);
    net.release();
  });

  it("timm's rule: no weight decay on biases and 1-D tensors unless asked (globally or per group)", () => {
    const net = makeNet();
    const decays = (groups: ReturnType<typeof resolveParamGroups>) => groups.flatMap((g) => g.params.map((p, i) => [g.names[i], decaysWeight(g, g.names[i]!, p)]));
    expect(decays(resolveParamGroups(net, undefined, defaults))).toEqual([
      ['body.0.weight', true],
      ['body.0.bias', false],
      ['body.1.weight', false],
      ['body.1.bias', false],
      ['head.weight', true],
      ['head.bias', false],
    ]);
    expect(decays(resolveParamGroups(net, undefined, defaults, { decayOneDimensional: true })).every(([, d]) => d)).toBe(true);
    const perGroup = resolveParamGroups(net, [{ params: 'head.*', weightDecayOneDimensional: true }, { params: '**' }], defaults);
    expect(decays(perGroup).filter(([, d]) => d).map(([n]) => n)).toEqual(['head.weight', 'head.bias', 'body.0.weight']);
    net.release();
  });

  it('layerwiseLrGroups: block i from the top gets baseLr * decay^i (blocks without parameters dropped)', () => {
    const net = makeNet();
    const specs = layerwiseLrGroups(net, [net.body.at(0), net.body.at(1), net.head], 1, 0.5);
    expect(specs.map((s) => [s.name, s.lr])).toEqual([['body.0', 0.25], ['body.1', 0.5], ['head', 1]]);
    const groups = resolveParamGroups(net, specs, defaults);
    expect(groups.map((g) => g.names)).toEqual([['body.0.weight', 'body.0.bias'], ['body.1.weight', 'body.1.bias'], ['head.weight', 'head.bias']]);
    const stranger = new Linear(gpu, 1, 1);
    expect(() => layerwiseLrGroups(net, [stranger], 1, 0.5)).toThrow(/not part of the module/);
    stranger.release();
    net.release();
  });
});
