/**
 * Differentiable elementwise primitives: each pairs a forward kernel with its backward. Binary ops
 * broadcast a trailing-dims operand (same shape, [..., c] against [c], or a [1] scalar), and the
 * broadcast operand's gradient is reduced back to its shape by the kernels' binaryBackward.
 */
import { activation, activationBackward, addActivation, addActivationBackward, binary, binaryBackward, unary, unaryBackward, type Activation, type BinaryOp } from '@graft/kernels';
import { record } from '../tape.js';
import type { Tensor } from '../tensor.js';

function binaryOp(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const gpu = a.gpu;
  const y = binary(gpu, op, a.data, b.data);
  return record(gpu, op, [a, b], y, (dy, needs) => {
    const { da, db } = binaryBackward(gpu, op, dy, a.data, b.data, { a: needs[0], b: needs[1] });
    return [da, db];
  });
}

export const add = (a: Tensor, b: Tensor): Tensor => binaryOp('add', a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binaryOp('sub', a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binaryOp('mul', a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binaryOp('div', a, b);

/** y = alpha * x + beta. */
export function affine(x: Tensor, alpha: number, beta = 0): Tensor {
  const gpu = x.gpu;
  const y = unary(gpu, 'affine', x.data, alpha, beta);
  return record(gpu, 'affine', [x], y, (dy) => [unaryBackward(gpu, 'affine', dy, {}, alpha)]);
}

export const neg = (x: Tensor): Tensor => affine(x, -1);

export function exp(x: Tensor): Tensor {
  const gpu = x.gpu;
  const y = unary(gpu, 'exp', x.data);
  // The backward needs the output; it is the node's own output tensor's storage, kept by the graph.
  const out = record(gpu, 'exp', [x], y, (dy) => [unaryBackward(gpu, 'exp', dy, { y: out.data })]);
  return out;
}

export function log(x: Tensor): Tensor {
  const gpu = x.gpu;
  return record(gpu, 'log', [x], unary(gpu, 'log', x.data), (dy) => [unaryBackward(gpu, 'log', dy, { x: x.data })]);
}

export function sqrt(x: Tensor): Tensor {
  const gpu = x.gpu;
  const out = record(gpu, 'sqrt', [x], unary(gpu, 'sqrt', x.data), (dy) => [unaryBackward(gpu, 'sqrt', dy, { y: out.data })]);
  return out;
}

export function square(x: Tensor): Tensor {
  const gpu = x.gpu;
  return record(gpu, 'square', [x], unary(gpu, 'square', x.data), (dy) => [unaryBackward(gpu, 'square', dy, { x: x.data })]);
}

/** relu / relu6; the backward masks dy with the derivative read from the output. */
export function activate(x: Tensor, kind: Activation): Tensor {
  if (kind === 'none') return x;
  const gpu = x.gpu;
  const out = record(gpu, kind, [x], activation(gpu, x.data, kind), (dy) => [activationBackward(gpu, dy, out.data, kind)]);
  return out;
}

export const relu = (x: Tensor): Tensor => activate(x, 'relu');
export const relu6 = (x: Tensor): Tensor => activate(x, 'relu6');

/** Residual add with an optional fused relu: y = act(a + b). Both inputs get the same gradient. */
export function addActivate(a: Tensor, b: Tensor, kind: Activation = 'none'): Tensor {
  const gpu = a.gpu;
  const out = record(gpu, kind === 'none' ? 'add' : `add+${kind}`, [a, b], addActivation(gpu, a.data, b.data, kind), (dy, needs) => {
    const g = addActivationBackward(gpu, dy, out.data, kind);
    // One buffer serves both inputs; the second gets a copy so the tape can own each separately.
    if (needs[0] && needs[1]) return [g, unary(gpu, 'copy', g)];
    return needs[0] ? [g, undefined] : [undefined, g];
  });
  return out;
}
