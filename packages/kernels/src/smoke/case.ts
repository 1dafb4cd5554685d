/** What one smoke case is: one kernel (or one kernel's backward) run once and compared with its reference. */
import type { Gpu } from '../runtime/gpu.js';

/** One output of the kernel beside the same output computed by the plain-loop reference. */
export interface Comparison {
  got: ArrayLike<number>;
  want: ArrayLike<number>;
}

export interface SmokeCase {
  /**
   * The function exercised, named without its `Host` suffix (`conv2dBackward` runs `conv2dBackwardHost`).
   * smoke.test.ts checks every `...Host` export of ops/index.ts has a case naming it.
   */
  kernel: string;
  /** A short label of the shape and options, for the `graft demo` table. */
  shape: string;
  /** Absolute tolerance on the largest elementwise difference from the reference. */
  tolerance: number;
  run(gpu: Gpu): Promise<Comparison[]>;
}

/** Largest |got - want|; Infinity when the lengths differ or any difference is NaN. */
export function maxAbsDifference(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  return worst;
}

/** A reference's float64 result as the float32 host tensor a kernel takes as input. */
export function f32(data: ArrayLike<number>, shape: readonly number[]): { data: Float32Array; shape: readonly number[] } {
  return { data: Float32Array.from(data), shape };
}
