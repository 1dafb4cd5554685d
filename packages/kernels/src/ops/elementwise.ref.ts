/** Plain-loop references for the elementwise ops and their gradients, from the math. Work in f64. */
import type { BinaryOp, UnaryOp } from './elementwise.js';

/** y = f(x); `affine` is alpha x + beta; `fill` ignores x and returns beta everywhere. */
export function unaryRef(op: UnaryOp, x: ArrayLike<number>, alpha = 1, beta = 0): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    switch (op) {
      case 'copy': y[i] = v; break;
      case 'neg': y[i] = -v; break;
      case 'exp': y[i] = Math.exp(v); break;
      case 'log': y[i] = Math.log(v); break;
      case 'sqrt': y[i] = Math.sqrt(v); break;
      case 'square': y[i] = v * v; break;
      case 'affine': y[i] = alpha * v + beta; break;
      case 'fill': y[i] = beta; break;
    }
  }
  return y;
}

/** dx = dy * f'(x), with the derivative written from calculus (not from the forward's output). */
export function unaryBackwardRef(op: UnaryOp, dy: ArrayLike<number>, x: ArrayLike<number>, alpha = 1): Float64Array {
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    let derivative: number;
    switch (op) {
      case 'copy': derivative = 1; break;
      case 'neg': derivative = -1; break;
      case 'exp': derivative = Math.exp(v); break;
      case 'log': derivative = 1 / v; break;
      case 'sqrt': derivative = 0.5 / Math.sqrt(v); break;
      case 'square': derivative = 2 * v; break;
      case 'affine': derivative = alpha; break;
      case 'fill': derivative = 0; break;
    }
    dx[i] = dy[i]! * derivative;
  }
  return dx;
}

/** y[i] = a[i] (op) b[i mod bSize]: b repeats over a's leading dimensions (trailing-dims broadcast). */
export function binaryRef(op: BinaryOp, a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const u = a[i]!;
    const v = b[i % b.length]!;
    y[i] = op === 'add' ? u + v : op === 'sub' ? u - v : op === 'mul' ? u * v : u / v;
  }
  return y;
}

/** da[i] = dy[i] * dy/da; db[j] = sum over every i with i mod bSize = j of dy[i] * dy/db. */
export function binaryBackwardRef(
  op: BinaryOp,
  dy: ArrayLike<number>,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): { da: Float64Array; db: Float64Array } {
  const da = new Float64Array(a.length);
  const db = new Float64Array(b.length);
  for (let i = 0; i < a.length; i++) {
    const j = i % b.length;
    const u = a[i]!;
    const v = b[j]!;
    const [dA, dB] = op === 'add' ? [1, 1] : op === 'sub' ? [1, -1] : op === 'mul' ? [v, u] : [1 / v, -u / (v * v)];
    da[i] = dy[i]! * dA;
    db[j] += dy[i]! * dB;
  }
  return { da, db };
}
