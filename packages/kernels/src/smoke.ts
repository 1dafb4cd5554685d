/**
 * A quick end-to-end check of every kernel on the current adapter: each runs once on a small,
 * awkward shape through its `...Host` function and is compared with its plain-loop reference.
 * `graft demo` prints the result; the unit tests are the thorough version of the same comparison.
 * The cases live in smoke/, one file per kernel family.
 */
import type { Gpu } from './runtime/gpu.js';
import { maxAbsDifference, smokeCases, type SmokeCase } from './smoke/index.js';

export interface SmokeResult {
  kernel: string;
  shape: string;
  maxError: number;
  tolerance: number;
  ok: boolean;
  /** Set when the case threw (a launcher's KernelArgumentError, a shader that failed to compile...). */
  error?: string;
}

/** Runs `cases` (every kernel's by default). A case that compares nothing fails: it checked nothing. */
export async function runKernelSmoke(gpu: Gpu, onResult?: (r: SmokeResult) => void, cases: readonly SmokeCase[] = smokeCases): Promise<SmokeResult[]> {
  const results: SmokeResult[] = [];
  for (const c of cases) {
    let result: SmokeResult;
    try {
      const comparisons = await c.run(gpu);
      // Math.max() of nothing is -Infinity, which would pass any tolerance.
      if (comparisons.length === 0 || comparisons.every(({ got, want }) => got.length === 0 && want.length === 0)) {
        throw new Error('the case returned no values to compare');
      }
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
