/** Reference for the residual add y = act(a + b) and its gradient. */
import type { Activation } from '../runtime/validate.js';
import { activationBackwardRef, activationRef } from './activation.ref.js';

export function addActivationRef(a: ArrayLike<number>, b: ArrayLike<number>, kind: Activation): Float64Array {
  const sum = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) sum[i] = a[i]! + b[i]!;
  return activationRef(sum, kind);
}

/** d(a + b)/da = d(a + b)/db = 1, so both gradients are dy * act'(y). */
export function addActivationBackwardRef(dy: ArrayLike<number>, y: ArrayLike<number>, kind: Activation): { da: Float64Array; db: Float64Array } {
  const g = activationBackwardRef(dy, y, kind);
  return { da: g, db: Float64Array.from(g) };
}
