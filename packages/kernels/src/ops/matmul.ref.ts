/** Plain-loop reference for matmul, written from the math (not from the kernel). Works in f32 or f64. */
import type { Activation } from '../runtime/validate.js';

export interface MatmulRefOptions {
  transA?: boolean;
  transB?: boolean;
  activation?: Activation;
}

export function applyActivationRef(x: number, activation: Activation | undefined): number {
  if (activation === 'relu') return Math.max(x, 0);
  if (activation === 'relu6') return Math.min(Math.max(x, 0), 6);
  return x;
}

/** C[m, n] = act(sum_k opA[m, k] opB[k, n] + bias[n]); A is [M,K] ([K,M] if transA), B is [K,N] ([N,K] if transB). */
export function matmulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  m: number,
  n: number,
  k: number,
  options: MatmulRefOptions = {},
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = bias ? bias[j]! : 0;
      for (let p = 0; p < k; p++) {
        const aValue = options.transA ? a[p * m + i]! : a[i * k + p]!;
        const bValue = options.transB ? b[j * k + p]! : b[p * n + j]!;
        sum += aValue * bValue;
      }
      c[i * n + j] = applyActivationRef(sum, options.activation);
    }
  }
  return c;
}

/**
 * Gradients of C = opA . opB + bias (no activation: activation gradients are their own op) given dC.
 * Returned in the storage layouts of A and B.
 */
export function matmulBackwardRef(
  dc: ArrayLike<number>,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
  options: { transA?: boolean; transB?: boolean } = {},
): { da: Float64Array; db: Float64Array; dbias: Float64Array } {
  const da = new Float64Array(m * k);
  const db = new Float64Array(k * n);
  const dbias = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const g = dc[i * n + j]!;
      dbias[j] += g;
      for (let p = 0; p < k; p++) {
        const aIndex = options.transA ? p * m + i : i * k + p;
        const bIndex = options.transB ? j * k + p : p * n + j;
        da[aIndex] += g * b[bIndex]!;
        db[bIndex] += g * a[aIndex]!;
      }
    }
  }
  return { da, db, dbias };
}
