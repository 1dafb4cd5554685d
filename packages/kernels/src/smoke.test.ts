import { describe, expect, it } from 'vitest';
import * as ops from './ops/index.js';
import { runKernelSmoke } from './smoke.js';
import { smokeCases } from './smoke/index.js';
import { testGpu } from './testing/testGpu.js';

/**
 * `...Host` exports of ops/index.ts that are not kernels, each with its reason. None today: every
 * `fooHost` there runs kernel `foo` (runFusedStepsOnHost, the optimizers' shared host driver, is not
 * re-exported from ops/index.ts; sgdHost and adamHost are its public faces).
 */
const hostHelpersThatAreNotKernels = new Set<string>([]);

/** The kernel launchers, from the module's exports: every exported function `fooHost` stands for kernel `foo`. */
const kernels = Object.entries(ops)
  .filter(([name, value]) => typeof value === 'function' && name.endsWith('Host') && !hostHelpersThatAreNotKernels.has(name))
  .map(([name]) => name.slice(0, -'Host'.length))
  .sort();

describe('kernel smoke check', () => {
  it('finds the kernels among the exports', () => {
    // Guards the derivation itself: if the naming convention changed, the list below would silently empty.
    expect(kernels.length).toBeGreaterThan(25);
    expect(kernels).toContain('matmul');
    expect(kernels).toContain('conv2dBackward');
  });

  it('has a case for every kernel exported from ops/index.ts', () => {
    const covered = new Set(smokeCases.map((c) => c.kernel));
    expect(kernels.filter((k) => !covered.has(k))).toEqual([]);
  });

  it('names only functions that exist (kernels, or the host-only foldBatchNormIntoConv)', () => {
    const exported = new Set(kernels);
    const stale = smokeCases.filter((c) => !exported.has(c.kernel) && typeof (ops as Record<string, unknown>)[c.kernel] !== 'function');
    expect(stale.map((c) => c.kernel)).toEqual([]);
  });

  it('every case gives a label and a tolerance', () => {
    for (const c of smokeCases) {
      expect(c.shape.length, c.kernel).toBeGreaterThan(0);
      expect(c.tolerance, c.kernel).toBeGreaterThanOrEqual(0);
      expect(c.tolerance, c.kernel).toBeLessThan(1e-2);
    }
  });

  it('every case agrees with its reference on this adapter', async () => {
    const gpu = await testGpu();
    const started = performance.now();
    const results = await runKernelSmoke(gpu);
    const seconds = (performance.now() - started) / 1000;
    const failed = results.filter((r) => !r.ok).map((r) => `${r.kernel} (${r.shape}): ${r.error ?? `max |error| ${r.maxError} > ${r.tolerance}`}`);
    expect(failed).toEqual([]);
    expect(results).toHaveLength(smokeCases.length);
    console.log(`kernel smoke: ${results.length} cases in ${seconds.toFixed(2)} s`);
  });

  it('a case that compares nothing fails instead of passing with max |error| -Infinity', async () => {
    const gpu = await testGpu();
    const nothing = { kernel: 'fake', shape: 'none', tolerance: 1e-6, run: async () => [] };
    const empty = { kernel: 'fake', shape: 'empty', tolerance: 1e-6, run: async () => [{ got: [], want: [] }] };
    const something = { kernel: 'fake', shape: '[1]', tolerance: 1e-6, run: async () => [{ got: [1], want: [1] }] };
    const [r0, r1, r2] = await runKernelSmoke(gpu, undefined, [nothing, empty, something]);
    expect(r0!.ok).toBe(false);
    expect(r0!.error).toMatch(/no values to compare/);
    expect(r1!.ok).toBe(false);
    expect(r2!.ok).toBe(true);
    expect(r2!.maxError).toBe(0);
  });
});
