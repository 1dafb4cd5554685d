/**
 * The optimizer base: parameter groups over arenas, one fused dispatch per step.
 *
 * At construction every trained parameter moves into a parameter arena (one buffer, each tensor at
 * a 256-byte-aligned offset; see docs/kernels/optimizers.md); gradients and each kind of state get
 * arenas with the same layout, so the fused kernel finds a tensor's gradient and state at its
 * parameter's offset. The Tensor objects keep their identity (modules and the tape hold them), only
 * their storage moves (Tensor.adoptStorage). step() copies each `.grad` into the grad arena (a
 * buffer copy, no dispatch) and steps every tensor that has a gradient, of every group, at once:
 * each tensor's row of hyperparameters comes from its group, read afresh at every step, so
 * `paramGroups[i].lr = x` takes effect at the next step.
 */
import { createArena, type Arena, type Gpu, type GpuTensor } from '@graft/kernels';
import { AutogradError } from '../errors.js';
import type { HostEntry } from '../nn/module.js';
import type { Tensor } from '../tensor.js';
import { decaysWeight, resolveParamGroups, type NamedParameters, type ParamGroup, type ParamGroupSpec } from './paramGroups.js';

export interface GroupingOptions {
  /** Parameter groups (PyTorch's param_groups); without them one group takes every trainable parameter. */
  groups?: readonly ParamGroupSpec[];
  /** Apply weight decay to biases and 1-D tensors too (timm's rule exempts them). */
  decayOneDimensional?: boolean;
}

/** Saved optimizer state, keyed like PyTorch's: tensors numbered group by group. */
export interface OptimizerStateDict {
  /** Per tensor index, its step count and state buffers (only tensors that have stepped). */
  state: Record<number, { step: number; buffers: Record<string, HostEntry> }>;
  /** Each group's hyperparameters, its tensors' indices and (for error messages) their names. */
  paramGroups: (Record<string, unknown> & { params: number[]; names: string[] })[];
}

/** One trained tensor: its group, name, and whether weight decay applies to it. */
export interface Slot<H> {
  param: Tensor;
  name: string;
  group: ParamGroup<H>;
  decays: boolean;
}

export abstract class Optimizer<H extends object> {
  readonly paramGroups: ParamGroup<H>[];
  protected readonly gpu: Gpu;
  /** Every trained tensor, group by group: the state dict's numbering. */
  protected readonly slots: Slot<H>[];
  /** Per tensor, steps taken (PyTorch's state['step']); a tensor without a gradient does not step. */
  protected readonly steps: number[];
  /** Per state name, which tensors have that buffer (PyTorch creates state lazily). */
  protected readonly hasState: Record<string, boolean[]> = {};
  private readonly paramArena: Arena;
  private readonly gradArena: Arena;
  private readonly stateArenas = new Map<string, Arena>();
  private released = false;

  protected constructor(named: NamedParameters, defaults: H, options: GroupingOptions, readonly stateNames: readonly string[]) {
    this.paramGroups = resolveParamGroups(named, options.groups, defaults, { decayOneDimensional: options.decayOneDimensional });
    this.slots = this.paramGroups.flatMap((group) => group.params.map((param, i) => ({ param, name: group.names[i]!, group, decays: decaysWeight(group, group.names[i]!, param) })));
    if (this.slots.length === 0) throw new AutogradError(`${this.constructor.name}: no trainable parameter (all frozen, or the groups select none)`);
    this.gpu = this.slots[0]!.param.gpu;
    this.steps = this.slots.map(() => 0);
    for (const name of stateNames) this.hasState[name] = this.slots.map(() => false);

    for (const { param, name } of this.slots) {
      if (param.data.isView) throw new AutogradError(`${this.constructor.name}: parameter ${name} already lives in an arena (another optimizer's?); release that optimizer first`);
    }
    const shapes = this.slots.map((s) => s.param.shape);
    this.paramArena = createArena(this.gpu, shapes);
    this.gradArena = createArena(this.gpu, shapes);
    const encoder = this.gpu.commandEncoder();
    this.slots.forEach(({ param }, i) => {
      const view = this.paramArena.views[i]!;
      const own = param.data;
      encoder.copyBufferToBuffer(own.buffer, own.byteOffset, view.buffer, view.byteOffset, view.byteLength);
      this.gpu.release(param.adoptStorage(view)); // freed after the copy: the queue runs in order
    });
  }

  /** The state arena called `name`, made (zero-filled) the first time a step needs it. */
  protected state(name: string): Arena {
    let arena = this.stateArenas.get(name);
    if (!arena) {
      arena = createArena(this.gpu, this.slots.map((s) => s.param.shape));
      this.stateArenas.set(name, arena);
    }
    return arena;
  }

  protected paramView(i: number): GpuTensor {
    return this.paramArena.views[i]!;
  }

  protected gradView(i: number): GpuTensor {
    return this.gradArena.views[i]!;
  }

  /** Steps the listed tensors (indices into slots, each with its step count already advanced) in one fused step (one dispatch per arena span that fits a binding). */
  protected abstract launch(active: readonly number[]): void;

  /** One update of every parameter that has a gradient (others are skipped, as in PyTorch). */
  step(): void {
    this.checkLive('step');
    const encoder = this.gpu.commandEncoder();
    const active: number[] = [];
    this.slots.forEach(({ param, name }, i) => {
      const grad = param.grad;
      if (!grad || param.released) return;
      if (grad.size !== param.size) throw new AutogradError(`${this.constructor.name}.step: gradient of ${name} has ${grad.size} elements, the parameter ${param.size}`);
      const from = grad.data;
      const to = this.gradView(i);
      encoder.copyBufferToBuffer(from.buffer, from.byteOffset, to.buffer, to.byteOffset, to.byteLength);
      this.steps[i]!++;
      active.push(i);
    });
    if (active.length > 0) this.launch(active);
  }

  /** Frees every parameter's gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const { param } of this.slots) {
      param.grad?.release();
      param.grad = null;
    }
  }

  /** Optimizer state read back to the host: step counts, state buffers, group hyperparameters. */
  async stateDict(): Promise<OptimizerStateDict> {
    this.checkLive('stateDict');
    const whole = new Map<string, Float32Array>();
    for (const [name, arena] of this.stateArenas) whole.set(name, await this.gpu.read(arena.whole));
    const state: OptimizerStateDict['state'] = {};
    this.slots.forEach(({ param }, i) => {
      const buffers: Record<string, HostEntry> = {};
      for (const name of this.stateNames) {
        const all = whole.get(name);
        if (!this.hasState[name]![i] || !all) continue;
        const start = this.state(name).views[i]!.byteOffset / 4;
        buffers[name] = { data: all.slice(start, start + param.size), shape: [...param.shape] };
      }
      if (this.steps[i]! > 0 || Object.keys(buffers).length > 0) state[i] = { step: this.steps[i]!, buffers };
    });
    let index = 0;
    const paramGroups = this.paramGroups.map((group) => {
      const { params, names, ...hyper } = group;
      const indices = params.map(() => index++);
      return { ...structuredClone(hyper), params: indices, names: [...names] };
    });
    return { state, paramGroups };
  }

  /**
   * Restores state saved by stateDict() into an optimizer over the same groups (same group count,
   * same tensor count and shapes per group): hyperparameters, step counts and buffers. Checked
   * entirely before anything is written.
   */
  loadStateDict(saved: OptimizerStateDict): void {
    this.checkLive('loadStateDict');
    const where = `${this.constructor.name}.loadStateDict`;
    if (saved.paramGroups.length !== this.paramGroups.length) {
      throw new AutogradError(`${where}: ${saved.paramGroups.length} saved groups, this optimizer has ${this.paramGroups.length}`);
    }
    const problems: string[] = [];
    let first = 0;
    saved.paramGroups.forEach((g, k) => {
      const group = this.paramGroups[k]!;
      if (g.params.length !== group.params.length) problems.push(`group ${group.name}: ${g.params.length} saved tensors, ${group.params.length} here`);
      g.params.forEach((savedIndex, j) => {
        const i = first + j;
        const entry = saved.state[savedIndex];
        const slot = this.slots[i];
        if (!entry || !slot) return;
        for (const [name, buffer] of Object.entries(entry.buffers)) {
          if (!this.stateNames.includes(name)) problems.push(`${g.names[j] ?? savedIndex}: unknown state ${name}`);
          else if (buffer.data.length !== slot.param.size) problems.push(`${slot.name}: saved ${name} has ${buffer.data.length} elements, the parameter ${slot.param.size}`);
        }
      });
      first += group.params.length;
    });
    if (problems.length > 0) throw new AutogradError(`${where}:\n  ${problems.join('\n  ')}`);

    first = 0;
    saved.paramGroups.forEach((g, k) => {
      const group = this.paramGroups[k]!;
      const { params: _params, names: _names, name: _name, ...hyper } = g;
      Object.assign(group, structuredClone(hyper));
      g.params.forEach((savedIndex, j) => {
        const i = first + j;
        const entry = saved.state[savedIndex];
        this.steps[i] = entry?.step ?? 0;
        for (const name of this.stateNames) {
          const buffer = entry?.buffers[name];
          this.hasState[name]![i] = buffer !== undefined;
          if (buffer) this.gpu.write(this.state(name).views[i]!, buffer.data);
          else if (this.stateArenas.has(name)) this.gpu.write(this.state(name).views[i]!, new Float32Array(this.slots[i]!.param.size));
        }
      });
      first += group.params.length;
    });
  }

  /**
   * Frees the arenas. Parameters still alive get storage of their own (a copy of their values), so
   * the model stays usable; gradients are left as they are.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    const encoder = this.gpu.commandEncoder();
    for (const { param } of this.slots) {
      if (param.released) continue;
      const view = param.data;
      const own = this.gpu.allocate(view.shape);
      encoder.copyBufferToBuffer(view.buffer, view.byteOffset, own.buffer, own.byteOffset, own.byteLength);
      param.adoptStorage(own);
    }
    this.gpu.release(this.paramArena.whole, this.gradArena.whole, ...[...this.stateArenas.values()].map((a) => a.whole));
    this.stateArenas.clear();
  }

  private checkLive(what: string): void {
    if (this.released) throw new AutogradError(`${this.constructor.name}.${what}: the optimizer was released`);
  }
}
