/**
 * A quick end-to-end check of every kernel on the current adapter: each runs once on a small,
 * awkward shape through its `...Host` function and is compared with its plain-loop reference.
 * `graft demo` prints the result; the unit tests are the thorough version of the same comparison.
 * The cases live in smoke/, one file per kernel family.
 */
import type { Gpu } from './runtime/gpu.js';
import { maxAbsDifference, smokeCases } from './smoke/index.js';

export interface SmokeResult {
  kernel: string;
  shape: string;
  maxError: number;
  tolerance: number;
  ok: boolean;
  /** Set when the case threw (a launcher's KernelArgumentError, a shader that failed to compile...). */
  error?: string;
}

export async function runKernelSmoke(gpu: Gpu, onResult?: (r: SmokeResult) => void): Promise<SmokeResult[]> {
  const results: SmokeResult[] = [];
  for (const c of smokeCases) {
    let result: SmokeResult;
    try {
      const comparisons = await c.run(gpu);
      const maxError = Math.max(...comparisons.map(({ got, want }) => maxAbsDifference(got, want)));
      result = { kernel: c.kernel, shape: c.shape, maxError, tolerance: c.tolerance, ok: maxError <= c.tolerance };
    } catch (e) {
      // One broken kernel is reported as such; the others still run.
      result = { kernel: c.kernel, shape: c.shape, maxError: Infinity, tolerance: c.tolerance, ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    results.push(result);
    onResult?.(result);
  }
  return results;
}
