/**
 * Elementwise ops an autograd engine needs, as two kernels: a unary family (copy, neg, exp, log,
 * sqrt, square, affine alpha*x + beta, fill) and a binary family (add, sub, mul, div) whose second
 * operand may broadcast over leading dimensions. Backward passes are compositions of these same
 * kernels plus sumRows for the broadcast reduction; each function below says which.
 * See elementwiseUnary.wgsl / elementwiseBinary.wgsl and docs/kernels/elementwise.md.
 */
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { runOnHost } from '../runtime/host.js';
import { defineKernel } from '../runtime/kernel.js';
import { shapeToString, type GpuTensor, type HostTensor, type Shape } from '../runtime/tensor.js';
import { expectDType, expectFinite, expectOneOf, expectShape, groupsFor } from '../runtime/validate.js';
import { linearWorkgroups } from '../runtime/workgroups.js';
import { sumRows } from './sumRows.js';

const unaryKernel = defineKernel('elementwiseUnary', import.meta.url);
const binaryKernel = defineKernel('elementwiseBinary', import.meta.url);

/** Must match WORKGROUP_SIZE and ELEMENTS_PER_INVOCATION in the flat elementwise kernels. */
const workgroupSize = 64;
const elementsPerInvocation = 4;

// ---- unary ------------------------------------------------------------------------------------

export const unaryOpCodes = { copy: 0, neg: 1, exp: 2, log: 3, sqrt: 4, square: 5, affine: 6, fill: 7 } as const;
export type UnaryOp = keyof typeof unaryOpCodes;
const unaryOps = Object.keys(unaryOpCodes) as UnaryOp[];

function dispatchUnary(gpu: Gpu, name: string, op: UnaryOp, x: GpuTensor | null, shape: Shape, alpha = 1, beta = 0): GpuTensor {
  if (x) expectDType(name, 'x', x, 'f32');
  expectFinite(name, 'alpha', alpha);
  expectFinite(name, 'beta', beta);
  const y = gpu.allocate(shape);
  gpu.dispatch(unaryKernel, {
    bindings: [x ?? gpu.placeholder(), y],
    uniforms: { size: y.size, op: unaryOpCodes[op], alpha, beta },
    workgroups: linearWorkgroups(gpu.limits, groupsFor(y.size, elementsPerInvocation), workgroupSize, unaryKernel.name),
  });
  return y;
}

/** y = f(x) for a unary op; `affine` reads alpha and beta (y = alpha x + beta). Use `fill` for fill. */
export function unary(gpu: Gpu, op: UnaryOp, x: GpuTensor, alpha = 1, beta = 0): GpuTensor {
  expectOneOf('unary', 'op', op, unaryOps);
  if (op === 'fill') throw new KernelArgumentError('unary', 'op', "an op that reads x (use fill() for 'fill')", "'fill'");
  return dispatchUnary(gpu, op, op, x, x.shape, alpha, beta);
}

export const copy = (gpu: Gpu, x: GpuTensor) => unary(gpu, 'copy', x);
export const neg = (gpu: Gpu, x: GpuTensor) => unary(gpu, 'neg', x);
export const exp = (gpu: Gpu, x: GpuTensor) => unary(gpu, 'exp', x);
export const log = (gpu: Gpu, x: GpuTensor) => unary(gpu, 'log', x);
export const sqrt = (gpu: Gpu, x: GpuTensor) => unary(gpu, 'sqrt', x);
export const square = (gpu: Gpu, x: GpuTensor) => unary(gpu, 'square', x);
/** y = alpha * x + beta. */
export const scale = (gpu: Gpu, x: GpuTensor, alpha: number, beta = 0) => unary(gpu, 'affine', x, alpha, beta);

/** A new tensor of `shape` with every element equal to `value`. */
export function fill(gpu: Gpu, shape: Shape, value: number): GpuTensor {
  return dispatchUnary(gpu, 'fill', 'fill', null, shape, 1, value);
}

/**
 * dx for y = f(x), given dy (all the same shape). Compositions:
 *   copy dx = dy (copy) · neg dx = -dy (affine) · affine dx = alpha dy (affine)
 *   exp dx = dy * y (mul) · log dx = dy / x (div) · sqrt dx = (dy / y) * 0.5 (div, affine)
 *   square dx = (dy * x) * 2 (mul, affine).  `fill` has no gradient.
 * `x` is needed by log and square, `y` by exp and sqrt; pass both when unsure.
 */
export function unaryBackward(gpu: Gpu, op: UnaryOp, dy: GpuTensor, saved: { x?: GpuTensor; y?: GpuTensor }, alpha = 1): GpuTensor {
  expectOneOf('unaryBackward', 'op', op, unaryOps);
  expectDType('unaryBackward', 'dy', dy, 'f32');
  const need = (name: 'x' | 'y'): GpuTensor => {
    const t = saved[name];
    if (!t) throw new KernelArgumentError('unaryBackward', name, `the forward's ${name} for op '${op}'`, 'nothing');
    expectShape('unaryBackward', name, t, dy.shape, 'same shape as dy');
    expectDType('unaryBackward', name, t, 'f32');
    return t;
  };
  const then = (t: GpuTensor, factor: number) => {
    const out = scale(gpu, t, factor);
    gpu.release(t);
    return out;
  };
  switch (op) {
    case 'copy': return copy(gpu, dy);
    case 'neg': return scale(gpu, dy, -1);
    case 'affine': return scale(gpu, dy, alpha);
    case 'exp': return binary(gpu, 'mul', dy, need('y'));
    case 'log': return binary(gpu, 'div', dy, need('x'));
    case 'sqrt': return then(binary(gpu, 'div', dy, need('y')), 0.5);
    case 'square': return then(binary(gpu, 'mul', dy, need('x')), 2);
    case 'fill': throw new KernelArgumentError('unaryBackward', 'op', 'a differentiable op', "'fill' (its output does not depend on an input)");
  }
}

// ---- binary -----------------------------------------------------------------------------------

export const binaryOpCodes = { add: 0, sub: 1, mul: 2, div: 3 } as const;
export type BinaryOp = keyof typeof binaryOpCodes;
const binaryOps = Object.keys(binaryOpCodes) as BinaryOp[];

/** b broadcasts when its shape is a's shape, a suffix of it ([C] against [..., C]), or the scalar [1]. */
function expectBroadcastable(kernel: string, a: GpuTensor, b: GpuTensor): void {
  const suffix = b.shape.length <= a.shape.length && b.shape.every((d, i) => d === a.shape[a.shape.length - b.shape.length + i]);
  const scalar = b.shape.length === 1 && b.shape[0] === 1;
  if (!suffix && !scalar) {
    throw new KernelArgumentError(kernel, 'b', `a's shape ${shapeToString(a.shape)}, its trailing dimensions, or [1]`, shapeToString(b.shape));
  }
}

/** y = a (op) b, with b broadcast over a's leading dimensions (same shape, trailing dims, or scalar [1]). */
export function binary(gpu: Gpu, op: BinaryOp, a: GpuTensor, b: GpuTensor): GpuTensor {
  expectOneOf('binary', 'op', op, binaryOps);
  expectDType(op, 'a', a, 'f32');
  expectDType(op, 'b', b, 'f32');
  expectBroadcastable(op, a, b);
  const y = gpu.allocate(a.shape);
  gpu.dispatch(binaryKernel, {
    bindings: [a, b, y],
    uniforms: { size: a.size, b_size: b.size, op: binaryOpCodes[op] },
    workgroups: linearWorkgroups(gpu.limits, groupsFor(a.size, elementsPerInvocation), workgroupSize, binaryKernel.name),
  });
  return y;
}

export const add = (gpu: Gpu, a: GpuTensor, b: GpuTensor) => binary(gpu, 'add', a, b);
export const sub = (gpu: Gpu, a: GpuTensor, b: GpuTensor) => binary(gpu, 'sub', a, b);
export const mul = (gpu: Gpu, a: GpuTensor, b: GpuTensor) => binary(gpu, 'mul', a, b);
export const div = (gpu: Gpu, a: GpuTensor, b: GpuTensor) => binary(gpu, 'div', a, b);

/** Sums a's-shape gradient t down to b's shape (sumRows over the broadcast rows); consumes t. */
function reduceToB(gpu: Gpu, t: GpuTensor, b: GpuTensor): GpuTensor {
  if (t.size === b.size) return t.reshape(b.shape);
  const reduced = sumRows(gpu, t, b.size);
  gpu.release(t);
  return reduced.reshape(b.shape);
}

export interface BinaryGrads {
  da?: GpuTensor;
  db?: GpuTensor;
}

/**
 * Gradients of y = a (op) b from dy (a's shape); db comes back in b's shape. Compositions
 * (R = sumRows over the broadcast rows, identity when b has a's shape):
 *   add  da = dy (copy)        db = R(dy)
 *   sub  da = dy (copy)        db = -R(dy)                (neg after the reduction: fewer elements)
 *   mul  da = dy * b           db = R(dy * a)
 *   div  da = dy / b           db = -R(dy * a / b^2)      (mul, square, div, R, neg)
 * Only the requested gradients are computed.
 */
export function binaryBackward(
  gpu: Gpu,
  op: BinaryOp,
  dy: GpuTensor,
  a: GpuTensor,
  b: GpuTensor,
  wanted: { a?: boolean; b?: boolean } = { a: true, b: true },
): BinaryGrads {
  expectOneOf('binaryBackward', 'op', op, binaryOps);
  expectDType('binaryBackward', 'dy', dy, 'f32');
  expectDType('binaryBackward', 'a', a, 'f32');
  expectDType('binaryBackward', 'b', b, 'f32');
  expectBroadcastable('binaryBackward', a, b);
  expectShape('binaryBackward', 'dy', dy, a.shape, "a's shape");
  const grads: BinaryGrads = {};
  if (wanted.a) {
    if (op === 'add' || op === 'sub') grads.da = copy(gpu, dy);
    else grads.da = binary(gpu, op, dy, b); // mul: dy * b, div: dy / b
  }
  if (wanted.b) {
    if (op === 'add') grads.db = reduceToB(gpu, copy(gpu, dy), b);
    else if (op === 'sub') {
      const reduced = reduceToB(gpu, copy(gpu, dy), b);
      grads.db = neg(gpu, reduced);
      gpu.release(reduced);
    } else if (op === 'mul') grads.db = reduceToB(gpu, binary(gpu, 'mul', dy, a), b);
    else {
      const dyA = binary(gpu, 'mul', dy, a);
      const bSquared = square(gpu, b);
      const quotient = binary(gpu, 'div', dyA, bSquared);
      gpu.release(dyA, bSquared);
      const reduced = reduceToB(gpu, quotient, b);
      grads.db = neg(gpu, reduced);
      gpu.release(reduced);
    }
  }
  return grads;
}

// ---- host variants ----------------------------------------------------------------------------

export function unaryHost(gpu: Gpu, op: UnaryOp, x: HostTensor, alpha = 1, beta = 0): Promise<HostTensor> {
  return runOnHost(gpu, { x }, (t) => unary(gpu, op, t.x, alpha, beta));
}

export function fillHost(gpu: Gpu, shape: Shape, value: number): Promise<HostTensor> {
  return runOnHost(gpu, {}, () => fill(gpu, shape, value));
}

export function unaryBackwardHost(gpu: Gpu, op: UnaryOp, dy: HostTensor, saved: { x?: HostTensor; y?: HostTensor }, alpha = 1): Promise<HostTensor> {
  return runOnHost(gpu, { dy, x: saved.x, y: saved.y }, (t) => unaryBackward(gpu, op, t.dy, { x: t.x, y: t.y }, alpha));
}

export function binaryHost(gpu: Gpu, op: BinaryOp, a: HostTensor, b: HostTensor): Promise<HostTensor> {
  return runOnHost(gpu, { a, b }, (t) => binary(gpu, op, t.a, t.b));
}

export function binaryBackwardHost(
  gpu: Gpu,
  op: BinaryOp,
  dy: HostTensor,
  a: HostTensor,
  b: HostTensor,
): Promise<{ da?: HostTensor | undefined; db?: HostTensor | undefined }> {
  return runOnHost(gpu, { dy, a, b }, (t) => binaryBackward(gpu, op, t.dy, t.a, t.b));
}
