/**
 * What the fused optimizer kernels (sgd.wgsl, adam.wgsl) share: arenas, the chunk table one dispatch
 * walks, argument checks, and the host-level runner.
 *
 * An arena is one GPU buffer holding many tensors, each at a 256-byte-aligned offset, so each tensor
 * can still be bound on its own by any other kernel (a GpuTensor view with a byteOffset). Parameters,
 * gradients and each kind of optimizer state get their own arena laid out from the same shapes, so a
 * tensor sits at the same byte offset in all of them: one element index addresses the parameter, its
 * gradient and its state, and the kernel needs no per-arena offsets.
 *
 * One dispatch updates every tensor (several when the arenas are larger than maxStorageBufferBindingSize:
 * each binds a span that fits): the launcher cuts each tensor into chunks of `chunkElements`
 * (one workgroup each) and writes a chunk table (start, end, row) plus one hyperparameter row per
 * tensor, so tensors with different learning rates and weight decays share the dispatch.
 */
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import type { Kernel } from '../runtime/kernel.js';
import { GpuTensor, shapeToString, sizeOf, type HostTensor, type Shape } from '../runtime/tensor.js';
import { expectDType } from '../runtime/validate.js';
import { linearWorkgroups } from '../runtime/workgroups.js';

/** minStorageBufferOffsetAlignment on every adapter: the most a binding offset may need. */
export const arenaAlignmentBytes = 256;

/** Both kernels use workgroups of 64 invocations, each updating 16 vec4s: 4096 elements per chunk (see sgd.wgsl). */
const invocationsPerWorkgroup = 64;
const vec4PerInvocation = 16;
export const chunkElements = invocationsPerWorkgroup * vec4PerInvocation * 4;
const chunkVec4s = chunkElements / 4;

export interface ArenaLayout {
  readonly shapes: readonly Shape[];
  /** Byte offset of each tensor in the arena, a multiple of arenaAlignmentBytes. */
  readonly byteOffsets: readonly number[];
  /** Bytes of the whole arena, a multiple of arenaAlignmentBytes. */
  readonly byteLength: number;
}

/** Places tensors of the given shapes one after another, each at a 256-byte-aligned offset. */
export function arenaLayout(shapes: readonly Shape[]): ArenaLayout {
  const byteOffsets: number[] = [];
  let end = 0;
  shapes.forEach((shape, i) => {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 1) throw new KernelArgumentError('arenaLayout', `shapes[${i}]`, 'positive integer dims', shapeToString(shape));
    }
    byteOffsets.push(end);
    end += Math.ceil((sizeOf(shape) * 4) / arenaAlignmentBytes) * arenaAlignmentBytes;
  });
  return { shapes, byteOffsets, byteLength: Math.max(end, arenaAlignmentBytes) };
}

export interface Arena {
  readonly layout: ArenaLayout;
  /** The whole buffer as one flat tensor; `gpu.release(arena.whole)` frees the arena. */
  readonly whole: GpuTensor;
  /** One view per shape, in order. */
  readonly views: readonly GpuTensor[];
}

/** Allocates an arena for `shapes`, zero-filled (Adam's moments must start at zero), and its views. */
export function createArena(gpu: Gpu, shapes: readonly Shape[]): Arena {
  const layout = arenaLayout(shapes);
  const whole = gpu.allocate([layout.byteLength / 4]);
  gpu.write(whole, new Float32Array(layout.byteLength / 4));
  const views = shapes.map((shape, i) => new GpuTensor(whole.buffer, shape, 'f32', layout.byteOffsets[i], true));
  return { layout, whole, views };
}

/** Writes every tensor's contents into an arena with one upload (padding stays zero). */
export function writeArena(gpu: Gpu, arena: Arena, data: readonly ArrayLike<number>[]): void {
  if (data.length !== arena.views.length) throw new KernelArgumentError('writeArena', 'data', `${arena.views.length} arrays`, `${data.length}`);
  const all = new Float32Array(arena.layout.byteLength / 4);
  data.forEach((values, i) => {
    const view = arena.views[i]!;
    if (values.length !== view.size) throw new KernelArgumentError('writeArena', `data[${i}]`, `${view.size} elements`, `${values.length}`);
    all.set(values, view.byteOffset / 4);
  });
  gpu.write(arena.whole, all);
}

/** One tensor of a fused step: its parameter, gradient and state views, named by role. */
export interface FusedTensorViews {
  param: GpuTensor;
  grad: GpuTensor;
  state: Readonly<Record<string, GpuTensor | undefined>>;
}

export interface FusedPlan {
  /** Per role ('param', 'grad', state names), the span of its arena that covers every tensor. */
  spans: Record<string, GpuTensor>;
  /** [start, end, row, 0] per chunk; start and end count vec4s from the span's start. */
  chunks: Uint32Array;
  chunkCount: number;
}

/**
 * Checks that the tensors are views into shared arenas at matching offsets, and builds the chunk
 * tables: one plan per dispatch, each binding at most `maxSpanBytes` of every arena (the device's
 * maxStorageBufferBindingSize: ResNet-101's 42.5M parameters are 162 MiB, past the common 128 MiB).
 * Tensor i's hyperparameters are row i of the kernel's row table.
 */
export function planFusedStep(kernel: string, tensors: readonly FusedTensorViews[], stateNames: readonly string[], maxSpanBytes = Infinity): FusedPlan[] {
  if (tensors.length === 0) throw new KernelArgumentError(kernel, 'tensors', 'at least one tensor', 'an empty list');
  const roles = ['param', 'grad', ...stateNames];
  const viewOf = (t: FusedTensorViews, role: string) => (role === 'param' ? t.param : role === 'grad' ? t.grad : t.state[role]);
  const buffers = new Map<string, GPUBuffer>();
  const explain = 'every tensor must be a view into the same arena for this role, at the same byte offset as its parameter (lay out grads and state with createArena over the same shapes)';

  tensors.forEach((t, i) => {
    for (const role of roles) {
      const view = viewOf(t, role);
      const name = `tensors[${i}].${role}`;
      if (!view) {
        if (role === 'param' || role === 'grad') throw new KernelArgumentError(kernel, name, 'a tensor', 'undefined');
        continue;
      }
      expectDType(kernel, name, view, 'f32');
      if (role !== 'param' && shapeToString(view.shape) !== shapeToString(t.param.shape)) {
        throw new KernelArgumentError(kernel, name, `shape ${shapeToString(t.param.shape)} (the parameter's)`, shapeToString(view.shape));
      }
      if (view.byteOffset % arenaAlignmentBytes !== 0) {
        throw new KernelArgumentError(kernel, name, `a byteOffset that is a multiple of ${arenaAlignmentBytes}`, String(view.byteOffset));
      }
      const shared = buffers.get(role);
      if (!shared) buffers.set(role, view.buffer);
      else if (shared !== view.buffer) throw new KernelArgumentError(kernel, name, `a view into the same buffer as tensors[0].${role}: ${explain}`, 'a view of another buffer');
      if (view.byteOffset !== t.param.byteOffset) {
        throw new KernelArgumentError(kernel, name, `byteOffset ${t.param.byteOffset}: ${explain}`, `byteOffset ${view.byteOffset}`);
      }
      if (view.byteOffset + Math.ceil(view.size / 4) * 16 > view.buffer.size) {
        throw new KernelArgumentError(kernel, name, 'whole vec4s inside its buffer (arena padding after the tensor)', `${view.buffer.size - view.byteOffset} bytes after its offset`);
      }
    }
  });
  // One dispatch binds every role read-write; WebGPU forbids binding one buffer twice that way.
  const seen = new Map<GPUBuffer, string>();
  for (const [role, buffer] of buffers) {
    const other = seen.get(buffer);
    if (other) throw new KernelArgumentError(kernel, role, `an arena separate from the ${other} arena`, 'the same buffer');
    seen.set(buffer, role);
  }

  const order = tensors.map((t, i) => ({ i, start: t.param.byteOffset, end: t.param.byteOffset + t.param.byteLength }));
  order.sort((a, b) => a.start - b.start);
  for (let k = 1; k < order.length; k++) {
    if (order[k]!.start < order[k - 1]!.end) {
      throw new KernelArgumentError(kernel, `tensors[${order[k]!.i}].param`, `no overlap with tensors[${order[k - 1]!.i}].param (each tensor is updated once)`, 'overlapping views');
    }
  }

  // Chunks in byte order: [start, end) in bytes (end rounded up to whole vec4s), and the tensor's row.
  const allChunks: { start: number; end: number; row: number }[] = [];
  for (const { i, start } of order) {
    const end = start + Math.ceil(tensors[i]!.param.size / 4) * 16;
    for (let at = start; at < end; at += chunkVec4s * 16) allChunks.push({ start: at, end: Math.min(at + chunkVec4s * 16, end), row: i });
  }
  // One dispatch binds a span of each arena; a span may not pass maxStorageBufferBindingSize, so
  // the chunks are cut into consecutive dispatches whose spans fit (every chunk start is 256-aligned).
  const plans: FusedPlan[] = [];
  let first = 0;
  while (first < allChunks.length) {
    const base = allChunks[first]!.start;
    let last = first;
    while (last + 1 < allChunks.length && allChunks[last + 1]!.end - base <= maxSpanBytes) last++;
    const spanBytes = allChunks[last]!.end - base;
    if (spanBytes > maxSpanBytes) throw new KernelArgumentError(kernel, 'maxSpanBytes', `at least one chunk (${chunkVec4s * 16} bytes)`, String(maxSpanBytes));
    const spans: Record<string, GpuTensor> = {};
    for (const [role, buffer] of buffers) {
      // A state arena only some tensors use may end before the parameters' span does.
      const bytes = Math.min(spanBytes, Math.floor((buffer.size - base) / 16) * 16);
      if (bytes > 0) spans[role] = new GpuTensor(buffer, [bytes / 4], 'f32', base, true);
    }
    const rows: number[] = [];
    for (let c = first; c <= last; c++) {
      const { start, end, row } = allChunks[c]!;
      rows.push((start - base) / 16, (end - base) / 16, row, 0);
    }
    plans.push({ spans, chunks: Uint32Array.from(rows), chunkCount: rows.length / 4 });
    first = last + 1;
  }
  return plans;
}

/** Packs one row of scalar fields per tensor, in `fields` order, as the u32 words the WGSL struct reads. */
export function packRows<F extends string>(rows: readonly Readonly<Record<F, number>>[], fields: readonly { name: F; type: 'f32' | 'u32' }[]): Uint32Array {
  const words = new Uint32Array(rows.length * fields.length);
  const floats = new Float32Array(words.buffer);
  rows.forEach((row, r) => {
    fields.forEach((field, f) => {
      if (field.type === 'f32') floats[r * fields.length + f] = row[field.name];
      else words[r * fields.length + f] = row[field.name];
    });
  });
  return words;
}

/**
 * Encodes the fused dispatches of a step: uploads the row table and each plan's chunk table,
 * dispatches one workgroup per chunk (folded into 2D past the per-dimension limit) with the plan's
 * spans (`bindings(spans)`), and returns the tables to the pool.
 */
export function dispatchFused(gpu: Gpu, kernel: Kernel, plans: readonly FusedPlan[], rows: Uint32Array, bindings: (spans: Record<string, GpuTensor>) => readonly GpuTensor[]): void {
  const rowTable = gpu.upload(rows, [rows.length], 'u32');
  for (const plan of plans) {
    const chunkTable = gpu.upload(plan.chunks, [plan.chunks.length], 'u32');
    gpu.dispatch(kernel, {
      bindings: [chunkTable, rowTable, ...bindings(plan.spans)],
      uniforms: { chunk_count: plan.chunkCount },
      // One workgroup per chunk: the kernels read chunk = workgroup_id.x + workgroup_id.y * num_workgroups.x.
      workgroups: linearWorkgroups(gpu.limits, plan.chunkCount, 1, kernel.name),
    });
    gpu.release(chunkTable);
  }
  gpu.release(rowTable);
}

/** A hyperparameter that must be a finite number in [lo, hi) (or [lo, hi] when `closed`). */
export function expectInRange(kernel: string, name: string, value: number, lo: number, hi: number, closed = false): void {
  const ok = Number.isFinite(value) && value >= lo && (closed ? value <= hi : value < hi);
  if (!ok) throw new KernelArgumentError(kernel, name, `a number in [${lo}, ${hi}${closed ? ']' : ')'}`, String(value));
}

export interface HostStepResult<S extends string> {
  params: Float32Array[];
  state: Record<S, Float32Array[]>;
}

/**
 * Host face of a fused optimizer: puts params (and zeroed state) into arenas, runs one fused step
 * per entry of `gradsPerStep` ([step][tensor]), and reads every arena back after each step.
 */
export async function runFusedStepsOnHost<S extends string>(
  gpu: Gpu,
  params: readonly HostTensor[],
  gradsPerStep: readonly (readonly HostTensor[])[],
  stateNames: readonly S[],
  step: (views: { param: GpuTensor; grad: GpuTensor; state: Record<S, GpuTensor> }[], stepNumber: number) => void,
): Promise<HostStepResult<S>[]> {
  const shapes = params.map((p) => p.shape);
  const paramArena = createArena(gpu, shapes);
  const gradArena = createArena(gpu, shapes);
  const stateArenas = stateNames.map(() => createArena(gpu, shapes));
  const readArena = async (arena: Arena) => {
    const all = await gpu.read(arena.whole);
    return arena.views.map((v) => all.slice(v.byteOffset / 4, v.byteOffset / 4 + v.size));
  };
  try {
    writeArena(gpu, paramArena, params.map((p) => p.data));
    const views = shapes.map((_, i) => ({
      param: paramArena.views[i]!,
      grad: gradArena.views[i]!,
      state: Object.fromEntries(stateNames.map((name, s) => [name, stateArenas[s]!.views[i]!])) as Record<S, GpuTensor>,
    }));
    const results: HostStepResult<S>[] = [];
    for (let s = 0; s < gradsPerStep.length; s++) {
      const grads = gradsPerStep[s]!;
      grads.forEach((g, i) => {
        if (shapeToString(g.shape) !== shapeToString(shapes[i]!)) {
          throw new KernelArgumentError('runFusedStepsOnHost', `gradsPerStep[${s}][${i}]`, `shape ${shapeToString(shapes[i]!)}`, shapeToString(g.shape));
        }
      });
      writeArena(gpu, gradArena, grads.map((g) => g.data));
      step(views, s + 1);
      const state = {} as Record<S, Float32Array[]>;
      for (let k = 0; k < stateNames.length; k++) state[stateNames[k]!] = await readArena(stateArenas[k]!);
      results.push({ params: await readArena(paramArena), state });
    }
    return results;
  } finally {
    gpu.release(paramArena.whole, gradArena.whole, ...stateArenas.map((a) => a.whole));
  }
}
