/**
 * Freezing: requiresGrad = false on parameters, so the tape records no backward for a frozen
 * prefix and an optimizer skips tensors without a gradient. Learning rates are never touched.
 * A BatchNorm2d whose parameters all become frozen gets bnMode 'frozen' (running statistics used,
 * not updated: Keras' trainable = False) unless the caller passes another mode; without that, a
 * later model.train() would quietly start updating a frozen backbone's statistics.
 */
import { AutogradError } from '../errors.js';
import type { BatchNormMode } from '../ops/norm.js';
import type { Tensor } from '../tensor.js';
import { BatchNorm2d } from './layers.js';
import { Module } from './module.js';

export interface FreezeOptions {
  /**
   * The mode for batch norms: when freezing, every BatchNorm2d whose parameters are all frozen
   * (default 'frozen'); when unfreezing, every BatchNorm2d of the module (default: left as it is,
   * so a fine-tuned block keeps its statistics frozen unless asked, as Keras recommends).
   */
  bnMode?: BatchNormMode | null;
}

/** Sets the mode of every batch norm under `root` that this call froze entirely (weight and bias). */
function freezeBatchNorms(root: Module, mode: BatchNormMode | null, justFrozen: ReadonlySet<Tensor>): void {
  for (const [, m] of root.namedModules()) {
    if (!(m instanceof BatchNorm2d)) continue;
    const touched = justFrozen.has(m.weight) || justFrozen.has(m.bias);
    if (touched && !m.weight.requiresGrad && !m.bias.requiresGrad) m.bnMode = mode;
  }
}

export function freeze(target: Module | Iterable<Tensor>, options: FreezeOptions = {}): void {
  const params = [...(target instanceof Module ? target.parameters() : target)];
  for (const p of params) p.requiresGrad = false;
  if (target instanceof Module) freezeBatchNorms(target, options.bnMode === undefined ? 'frozen' : options.bnMode, new Set(params));
}

export function unfreeze(target: Module | Iterable<Tensor>, options: FreezeOptions = {}): void {
  const params = target instanceof Module ? target.parameters() : target;
  for (const p of params) p.requiresGrad = true;
  if (target instanceof Module && options.bnMode !== undefined) {
    for (const [, m] of target.namedModules()) if (m instanceof BatchNorm2d) m.bnMode = options.bnMode;
  }
}

/** A glob over dotted names as a RegExp: `*` stays within a path segment, `**` crosses segments. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*' && glob[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (ch === '*') {
      source += '[^.]*';
    } else {
      source += ch.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

/**
 * Freezes every parameter whose dotted name matches: a glob matches the whole name, a RegExp is
 * tested as given (anchor it yourself). Returns the frozen names; a pattern matching nothing throws.
 */
export function freezeByName(module: Module, pattern: string | RegExp, options: FreezeOptions = {}): string[] {
  const regex = typeof pattern === 'string' ? globToRegExp(pattern) : pattern;
  const matched = [...module.namedParameters()].filter(([name]) => {
    regex.lastIndex = 0; // a /g or /y RegExp keeps state between test() calls
    return regex.test(name);
  });
  if (matched.length === 0) {
    const names = [...module.namedParameters()].map(([name]) => name);
    const sample = names.slice(0, 8).join(', ') + (names.length > 8 ? ', ...' : '');
    throw new AutogradError(`freezeByName: pattern ${String(pattern)} matches no parameter (names look like: ${sample})`);
  }
  for (const [, p] of matched) p.requiresGrad = false;
  freezeBatchNorms(module, options.bnMode === undefined ? 'frozen' : options.bnMode, new Set(matched.map(([, p]) => p)));
  return matched.map(([name]) => name);
}

/**
 * Keras' `for layer in base.layers[:-n]: layer.trainable = False`: freezes every block but the
 * last n; the last n are left as they are. `blocks` says what a block is (e.g. m => m.children()).
 */
export function freezeAllButLast(module: Module, n: number, options: { blocks: (module: Module) => Module[] } & FreezeOptions): Module[] {
  const blocks = options.blocks(module);
  if (!Number.isInteger(n) || n < 0 || n > blocks.length) {
    throw new AutogradError(`freezeAllButLast: n must be an integer in [0, ${blocks.length}] (the number of blocks), got ${n}`);
  }
  const frozen = blocks.slice(0, blocks.length - n);
  for (const block of frozen) freeze(block, options);
  return frozen;
}
