/**
 * `--lr` / `--wd` specs as parameter groups, resolved by autograd's real optimizer (so what is tested is
 * which tensor trains at which rate, not the spec objects): numbers, name=value lists with unit names and
 * the catch-all, JSON configs with globs and regexes, and the mistakes users make.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Adam, Conv2d, Linear, Sequential } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { testGpu } from '@graft/kernels/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parameterGroups, type GroupContext } from './groups.js';
import { scaleLr } from './run.js';

let gpu: Gpu;
const dir = mkdtempSync(join(tmpdir(), 'graft-groups-'));
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A model named like GraftModel's: backbone.0 (unit 'a'), backbone.1 (unit 'b'), head.0. */
function model() {
  const m = new Sequential(new Conv2d(gpu, 3, 4, 3), new Conv2d(gpu, 4, 4, 3), new Linear(gpu, 4, 2));
  const names = (prefix: string) => [`${prefix}.weight`, `${prefix}.bias`];
  const context: GroupContext = { unitParams: new Map([['a', names('0')], ['b', names('1')]]), trainable: [...names('0'), ...names('1'), ...names('2')] };
  return { m, context };
}

/** group name -> [lr, weight decay, tensor names], as the optimizer resolved them. */
function resolved(spec: string, wd: string | undefined) {
  const { m, context } = model();
  const optimizer = new Adam(m, { groups: parameterGroups(spec, wd, context) });
  const out = Object.fromEntries(optimizer.paramGroups.map((g) => [g.name, [g.lr, g.weightDecay, g.names]]));
  optimizer.release();
  m.release();
  return out;
}

describe('parameterGroups', () => {
  it('a number: every trainable tensor at that rate', () => {
    const { m, context } = model();
    expect(parameterGroups('3e-4', undefined, context)).toEqual([{ name: 'all', params: '**', lr: 3e-4 }]);
    m.release();
  });

  it('name=value: units by name, the rest at the lowest rate listed (or default=), per-group weight decay', () => {
    const { m, context } = model();
    const groups = parameterGroups('a=1e-3,b=1e-4', 'a=0.1', context);
    expect(groups).toEqual([
      { name: 'a', params: ['0.weight', '0.bias'], lr: 1e-3, weightDecay: 0.1 },
      { name: 'b', params: ['1.weight', '1.bias'], lr: 1e-4 },
      { name: 'rest', params: '**', lr: 1e-4 },
    ]);
    expect(parameterGroups('a=1e-3,default=5e-5', undefined, context).at(-1)).toEqual({ name: 'rest', params: '**', lr: 5e-5 });
    // And the optimizer puts each tensor where the groups say.
    const optimizer = new Adam(m, { groups });
    expect(optimizer.paramGroups.map((g) => [g.name, g.names])).toEqual([['a', ['0.weight', '0.bias']], ['b', ['1.weight', '1.bias']], ['rest', ['2.weight', '2.bias']]]);
    optimizer.release();
    m.release();
  });

  it('a JSON file: globs and /regex/, lr and weightDecay per group', () => {
    const file = join(dir, 'groups.json');
    writeFileSync(file, JSON.stringify([{ name: 'head', params: '2.*', lr: 1e-3, weightDecay: 0.01 }, { name: 'convs', params: '/^[01]\\./', lr: 1e-5 }]));
    const r = resolved(file, undefined);
    expect(r).toEqual({ head: [1e-3, 0.01, ['2.weight', '2.bias']], convs: [1e-5, 0, ['0.weight', '0.bias', '1.weight', '1.bias']] });
  });

  it('mistakes name the flag and what was expected', () => {
    const { m, context } = model();
    expect(() => parameterGroups('neck=1e-3', undefined, context)).toThrow(/--lr: unknown group 'neck' \(use head, backbone, default, or a unit: a, b\)/);
    expect(() => parameterGroups('a=fast', undefined, context)).toThrow(/--lr a: expected a non-negative number, found 'fast'/);
    expect(() => parameterGroups('a=1e-3,a=1e-4', undefined, context)).toThrow(/'a' is given twice/);
    expect(() => parameterGroups('a=1e-3', 'z=0.1', context)).toThrow(/--wd: no group 'z'/);
    const frozen = { ...context, trainable: context.trainable.filter((n) => !n.startsWith('1.')) };
    expect(() => parameterGroups('b=1e-3', undefined, frozen)).toThrow(/group 'b' selects no trainable parameter/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"not": "an array"}');
    expect(() => parameterGroups(bad, undefined, context)).toThrow(/bad\.json: expected a non-empty JSON array of groups/);
    m.release();
  });

  it('scaleLr: phase 2 defaults to a tenth of every rate', () => {
    expect(scaleLr('1e-3', 0.1)).toBe(String(1e-3 * 0.1));
    expect(scaleLr('head=1e-3,default=1e-4', 0.1)).toBe(`head=${1e-3 * 0.1},default=${1e-4 * 0.1}`);
  });
});
