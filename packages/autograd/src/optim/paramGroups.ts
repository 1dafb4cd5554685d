/**
 * Parameter groups, as torch.optim: each group lists parameters and may override the optimizer's
 * defaults; defaults fill the rest; no parameter may be in two groups. Parameters are picked by
 * tensor, by dotted name or glob (the rules of nn/freeze.ts), or by RegExp, so a command line can
 * say `head=1e-3, layer4=1e-4, rest=frozen` as data. Frozen parameters (requiresGrad = false) never
 * enter an optimizer: a layer is frozen by requiresGrad, never by lr = 0.
 */
import { AutogradError } from '../errors.js';
import { globToRegExp } from '../nn/freeze.js';
import { Module } from '../nn/module.js';
import type { Tensor } from '../tensor.js';

/** Which parameters a group takes: tensors, or names / globs / a RegExp over dotted names. */
export type ParamSelector = readonly Tensor[] | string | RegExp | readonly (string | RegExp)[];

/** Every hyperparameter some optimizer knows; an optimizer rejects the ones it does not have. */
export interface GroupHyperparameters {
  lr?: number;
  weightDecay?: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  betas?: readonly [number, number];
  eps?: number;
}

export interface ParamGroupSpec extends GroupHyperparameters {
  /** `'**'` makes this the catch-all group: it takes every parameter no other group named. */
  params: ParamSelector;
  name?: string;
  /** Decay 1-D tensors and biases too (timm's rule exempts them by default). */
  weightDecayOneDimensional?: boolean;
  /** Freeze these parameters (requiresGrad = false) instead of training them: `rest=frozen`. */
  frozen?: boolean;
}

/** A resolved group: the optimizer's hyperparameters, all filled, plus its tensors and their names. */
export type ParamGroup<H> = H & {
  name: string;
  params: Tensor[];
  names: string[];
  weightDecayOneDimensional: boolean;
};

export interface ResolveOptions {
  /** Default of every group's weightDecayOneDimensional (false: timm's rule). */
  decayOneDimensional?: boolean;
}

export type NamedParameters = Module | Iterable<readonly [string, Tensor]>;

const groupKeys = new Set(['params', 'name', 'weightDecayOneDimensional', 'frozen']);

/** timm's rule: no weight decay on biases and 1-D tensors (BatchNorm gamma/beta) unless the group asks. */
export function decaysWeight(group: { weightDecayOneDimensional: boolean }, name: string, param: Tensor): boolean {
  if (group.weightDecayOneDimensional) return true;
  return param.shape.length > 1 && !name.endsWith('.bias') && name !== 'bias';
}

function describePattern(p: string | RegExp): string {
  return typeof p === 'string' ? `'${p}'` : String(p);
}

function matches(pattern: string | RegExp, name: string): boolean {
  const regex = typeof pattern === 'string' ? globToRegExp(pattern) : pattern;
  regex.lastIndex = 0; // a /g or /y RegExp keeps state between test() calls
  return regex.test(name);
}

/**
 * Resolves group specs over a module's (or any) named parameters. Throws, naming what is wrong, on:
 * a parameter in two groups, a pattern matching no parameter, an unknown hyperparameter, more than
 * one catch-all group. Frozen parameters are left out of every group (a pattern that matches only
 * frozen ones is still fine). With no groups, one group takes every trainable parameter.
 */
export function resolveParamGroups<H extends object>(
  named: NamedParameters,
  groups: readonly ParamGroupSpec[] | undefined,
  defaults: H,
  options: ResolveOptions = {},
): ParamGroup<H>[] {
  const specs = groups && groups.length > 0 ? groups : [{ params: '**' } as ParamGroupSpec];
  const entries = named instanceof Module ? named.namedParameters() : named;
  const order: [string, Tensor][] = [];
  const nameOf = new Map<Tensor, string>();
  for (const [name, t] of entries) {
    if (nameOf.has(t)) continue; // a shared tensor is one parameter (as named_parameters dedups)
    nameOf.set(t, name);
    order.push([name, t]);
  }

  const known = new Set([...groupKeys, ...Object.keys(defaults)]);
  const groupName = (spec: ParamGroupSpec, i: number) => spec.name ?? (typeof spec.params === 'string' ? spec.params : `groups[${i}]`);
  const catchAll = specs.flatMap((spec, i) => (spec.params === '**' ? [i] : []));
  if (catchAll.length > 1) throw new AutogradError(`resolveParamGroups: groups ${catchAll.map((i) => groupName(specs[i]!, i)).join(' and ')} are both catch-all ('**'); keep one`);

  const owner = new Map<Tensor, string>();
  const picked: [string, Tensor][][] = specs.map(() => []);
  const take = (i: number, name: string, t: Tensor) => {
    const group = groupName(specs[i]!, i);
    const previous = owner.get(t);
    if (previous === group) return; // two patterns of one group may name the same parameter
    if (previous !== undefined) throw new AutogradError(`resolveParamGroups: parameter ${name} is in two groups: ${previous} and ${group}`);
    owner.set(t, group);
    picked[i]!.push([name, t]);
  };

  specs.forEach((spec, i) => {
    const unknown = Object.keys(spec).filter((k) => !known.has(k) && (spec as unknown as Record<string, unknown>)[k] !== undefined);
    if (unknown.length > 0) {
      throw new AutogradError(`resolveParamGroups: group ${groupName(spec, i)} sets ${unknown.join(', ')}, which this optimizer does not have (it has ${Object.keys(defaults).join(', ')})`);
    }
    if (spec.params === '**') return;
    const selectors = typeof spec.params === 'string' || spec.params instanceof RegExp ? [spec.params] : spec.params;
    for (const selector of selectors) {
      if (typeof selector === 'string' || selector instanceof RegExp) {
        const hits = order.filter(([name]) => matches(selector, name));
        if (hits.length === 0) {
          const sample = order.slice(0, 8).map(([n]) => n).join(', ') + (order.length > 8 ? ', ...' : '');
          throw new AutogradError(`resolveParamGroups: pattern ${describePattern(selector)} of group ${groupName(spec, i)} matches no parameter (names look like: ${sample})`);
        }
        for (const [name, t] of hits) take(i, name, t);
      } else {
        take(i, nameOf.get(selector) ?? selector.name ?? selector.describe(), selector);
      }
    }
  });
  for (const i of catchAll) for (const [name, t] of order) if (!owner.has(t)) take(i, name, t);

  const resolved: ParamGroup<H>[] = [];
  specs.forEach((spec, i) => {
    if (spec.frozen) {
      for (const [, t] of picked[i]!) t.requiresGrad = false;
      return;
    }
    const trained = picked[i]!.filter(([, t]) => t.requiresGrad);
    const overrides = Object.fromEntries(Object.entries(spec).filter(([k, v]) => !groupKeys.has(k) && v !== undefined));
    resolved.push({
      ...defaults,
      ...overrides,
      name: groupName(spec, i),
      params: trained.map(([, t]) => t),
      names: trained.map(([n]) => n),
      weightDecayOneDimensional: spec.weightDecayOneDimensional ?? options.decayOneDimensional ?? false,
    } as ParamGroup<H>);
  });
  return resolved;
}

/**
 * Layer-wise learning-rate decay: one group per block, block i from the top (the last block is the
 * top) at baseLr * decay^i. `blocks` are descendants of `module` in input-to-output order (e.g.
 * m.children()); blocks without parameters are dropped before counting. Parameters outside every
 * block are in no group: add `{ params: '**', lr }` for them (or `frozen: true`).
 */
export function layerwiseLrGroups(module: Module, blocks: readonly Module[] | ((m: Module) => Module[]), baseLr: number, decay: number): ParamGroupSpec[] {
  const list = typeof blocks === 'function' ? blocks(module) : blocks;
  const paths = new Map<Module, string>();
  for (const [path, m] of module.namedModules()) paths.set(m, path);
  const withParams = list
    .map((block, i) => {
      const path = paths.get(block);
      if (path === undefined) throw new AutogradError(`layerwiseLrGroups: blocks[${i}] (${block.constructor.name}) is not part of the module`);
      return { path, names: [...block.namedParameters(path)].map(([n]) => n) };
    })
    .filter((b) => b.names.length > 0);
  return withParams.map((b, i) => ({ name: b.path || '(root)', params: b.names, lr: baseLr * decay ** (withParams.length - 1 - i) }));
}
