/**
 * The Module base: a tree of layers whose parameters and buffers are named by PyTorch's dotted
 * paths (`layer4.1.conv2.weight`, `features.18.0.weight`), so a checkpoint loads with a strict key
 * loop. A field holding a Tensor is a parameter, a field holding a Module is a child named after the
 * field; buffers (running statistics) are Tensor fields registered with registerBuffer. Fields
 * holding null (an absent bias) are skipped, as PyTorch skips `None` parameters.
 */
import { shapeToString, type GpuTensor, type Shape } from '@graft/kernels';
import { AutogradError } from '../errors.js';
import { Tensor } from '../tensor.js';

/** Host data for one state-dict entry (what a safetensors or JSON reader produces). */
export interface HostEntry {
  data: Float32Array;
  shape: Shape;
}

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
  /** Set only by a non-strict load that skipped tensors of the wrong shape: `key: expected [..], found [..]`. */
  misShapedKeys?: string[];
}

/** A strict load's refusal: every missing, unexpected and mis-shaped key, one kind per line, under `heading`. */
export function formatLoadProblems(heading: string, { missingKeys, unexpectedKeys, misShapedKeys = [] }: LoadResult): string {
  const lines = [
    ...(missingKeys.length > 0 ? [`missing keys (${missingKeys.length}): ${missingKeys.join(', ')}`] : []),
    ...(unexpectedKeys.length > 0 ? [`unexpected keys (${unexpectedKeys.length}): ${unexpectedKeys.join(', ')}`] : []),
    ...(misShapedKeys.length > 0 ? [`mis-shaped keys (${misShapedKeys.length}):`, ...misShapedKeys.map((m) => `  ${m}`)] : []),
  ];
  return `${heading}:\n${lines.join('\n')}`;
}

/** Copies `src` into `dst`'s buffer on the GPU (same element count), keeping dst's identity. */
export function copyInto(dst: Tensor, src: GpuTensor): void {
  if (src.size !== dst.size) throw new AutogradError(`copyInto: ${src.size} elements into ${dst.describe()} of ${dst.size}`);
  const to = dst.data;
  if (src.buffer === to.buffer && src.byteOffset === to.byteOffset) return; // loading a module's own tensor: nothing to copy (WebGPU refuses a self-copy)
  dst.gpu.commandEncoder().copyBufferToBuffer(src.buffer, src.byteOffset, to.buffer, to.byteOffset, to.byteLength);
}

/** Scalars are stored as [] by PyTorch and [1] here: both are one element. */
function sameShape(a: Shape, b: Shape): boolean {
  if (a.length === b.length) return a.every((d, i) => d === b[i]);
  return a.reduce((x, y) => x * y, 1) === 1 && b.reduce((x, y) => x * y, 1) === 1 && a.length <= 1 && b.length <= 1;
}

export abstract class Module {
  /** Recursive via train()/eval(). */
  training = true;
  private readonly bufferNames = new Set<string>();

  /** Makes `tensor` a buffer (state, not trained: running statistics) stored in the field `name`. */
  protected registerBuffer(name: string, tensor: Tensor): Tensor {
    tensor.requiresGrad = false;
    this.bufferNames.add(name);
    (this as unknown as Record<string, unknown>)[name] = tensor;
    return tensor;
  }

  /** Makes `tensor` a parameter stored in the field `name` (for names that are not identifiers, e.g. '0'). */
  registerParameter(name: string, tensor: Tensor): Tensor {
    this.bufferNames.delete(name);
    (this as unknown as Record<string, unknown>)[name] = tensor;
    return tensor;
  }

  /** Adds a child under `name` (Sequential's '0', '1', ...). */
  registerModule(name: string, module: Module): Module {
    (this as unknown as Record<string, unknown>)[name] = module;
    return module;
  }

  private fields(): [string, unknown][] {
    return Object.entries(this).filter(([key]) => key !== 'bufferNames');
  }

  *namedChildren(): Generator<[string, Module]> {
    for (const [name, value] of this.fields()) if (value instanceof Module) yield [name, value];
  }

  children(): Module[] {
    return [...this.namedChildren()].map(([, m]) => m);
  }

  /** This module and every descendant, depth first, with dotted names ('' for this one). */
  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [name, child] of this.namedChildren()) yield* child.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [path, module] of this.namedModules(prefix)) {
      for (const [name, value] of module.fields()) {
        if (value instanceof Tensor && !module.bufferNames.has(name)) yield [path ? `${path}.${name}` : name, value];
      }
    }
  }

  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [path, module] of this.namedModules(prefix)) {
      for (const [name, value] of module.fields()) {
        if (value instanceof Tensor && module.bufferNames.has(name)) yield [path ? `${path}.${name}` : name, value];
      }
    }
  }

  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  /** Sets `training` on this module and every descendant (an explicit BatchNorm2d.bnMode is left alone). */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Parameters and buffers by dotted name, module by module (PyTorch's order). The tensors are the module's own, not copies. */
  stateDict(): Record<string, Tensor> {
    const state: Record<string, Tensor> = {};
    for (const [path, module] of this.namedModules()) {
      for (const [name, value] of module.fields()) if (value instanceof Tensor) state[path ? `${path}.${name}` : name] = value;
    }
    return state;
  }

  /**
   * Copies `state` into the module's tensors in place (optimizer references stay valid). Every key
   * is checked before anything is written. Strict: any missing or unexpected key throws, listing
   * all of them. A shape mismatch throws in either mode (as PyTorch's load_state_dict).
   */
  loadStateDict(state: Record<string, Tensor | HostEntry> | Map<string, Tensor | HostEntry>, { strict = true } = {}): LoadResult {
    const entries = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missingKeys = Object.keys(own).filter((k) => !entries.has(k));
    const unexpectedKeys = [...entries.keys()].filter((k) => !(k in own));
    const misShaped: string[] = [];
    for (const [key, target] of Object.entries(own)) {
      const source = entries.get(key);
      if (source && !sameShape(source.shape, target.shape)) {
        misShaped.push(`${key}: expected ${shapeToString(target.shape)}, found ${shapeToString(source.shape)}`);
      }
    }
    // Strict: any problem throws, listing all of them. Non-strict (Keras' skip_mismatch, what transfer
    // learning wants for a classifier of another size): mis-shaped tensors are skipped and reported.
    if (strict && (misShaped.length > 0 || missingKeys.length > 0 || unexpectedKeys.length > 0)) {
      throw new AutogradError(formatLoadProblems(`loadStateDict (${this.constructor.name})`, { missingKeys, unexpectedKeys, misShapedKeys: misShaped }));
    }
    for (const [key, target] of Object.entries(own)) {
      const source = entries.get(key);
      if (!source || !sameShape(source.shape, target.shape)) continue;
      if (source instanceof Tensor) copyInto(target, source.data);
      else target.gpu.write(target.data, source.data);
    }
    return misShaped.length > 0 ? { missingKeys, unexpectedKeys, misShapedKeys: misShaped } : { missingKeys, unexpectedKeys };
  }

  /** Frees every parameter (and its gradient) and buffer of the tree. */
  release(): void {
    for (const [, t] of this.namedParameters()) t.release();
    for (const [, t] of this.namedBuffers()) t.release();
  }
}

/** A module that maps one tensor to one (what Sequential chains). */
export interface Layer extends Module {
  forward(x: Tensor): Tensor;
}
