/** References for relu / relu6 and their gradients, written from the definitions. */
import type { Activation } from '../runtime/validate.js';

export function activationRef(x: ArrayLike<number>, kind: Activation): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    y[i] = kind === 'relu' ? Math.max(v, 0) : kind === 'relu6' ? Math.min(Math.max(v, 0), 6) : v;
  }
  return y;
}

/**
 * dx = dy * act'(y) from the output y. At the kinks (y = 0 for relu; y = 0 or y = 6 for relu6)
 * the derivative is taken as 0, PyTorch's convention (threshold_backward, hardtanh_backward).
 */
export function activationBackwardRef(dy: ArrayLike<number>, y: ArrayLike<number>, kind: Activation): Float64Array {
  const dx = new Float64Array(dy.length);
  for (let i = 0; i < dy.length; i++) {
    const out = y[i]!;
    const slope = kind === 'relu' ? (out > 0 ? 1 : 0) : kind === 'relu6' ? (out > 0 && out < 6 ? 1 : 0) : 1;
    dx[i] = dy[i]! * slope;
  }
  return dx;
}
