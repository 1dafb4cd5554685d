/** Test helpers shared by the autograd test files (not exported from the package). */
import type { Gpu } from '@graft/kernels';
import { randomArray } from '@graft/kernels/testing';
import { expect } from 'vitest';
import { tensor } from './create.js';
import { DEFAULT_TOLERANCE, gradcheck, type GradcheckInput } from './gradcheck.js';
import { noGrad } from './tape.js';
import type { Tensor } from './tensor.js';

/** A shape (values uniform in the default range), or a named shape with its own range. */
export type InputSpec = number[] | { name?: string; shape: number[]; lo?: number; hi?: number; seed?: number };

/** Random gradcheck inputs, seeded by position (100 + i) unless a spec names its seed: every run sees the same values. */
export function randomInputs(specs: readonly InputSpec[], lo = -1, hi = 1): GradcheckInput[] {
  return specs.map((spec, i) => {
    const s = Array.isArray(spec) ? { shape: spec } : spec;
    const size = s.shape.reduce((a, b) => a * b, 1);
    return { name: s.name ?? `x${i}`, shape: s.shape, data: randomArray(s.seed ?? 100 + i, size, s.lo ?? lo, s.hi ?? hi) };
  });
}

/**
 * Gradcheck of `f` with a random weighting of its `outSize` outputs: every input's max
 * |analytic - numeric| must be within `tolerance` relative to its largest gradient (absolute when
 * that is below 1). `inputs` are specs for randomInputs (in [lo, hi] unless a spec says otherwise)
 * or ready-made inputs.
 */
export async function expectGradientsMatch(
  gpu: Gpu,
  f: (...xs: Tensor[]) => Tensor,
  inputs: readonly InputSpec[] | readonly GradcheckInput[],
  outSize: number,
  lo = -1,
  hi = 1,
  tolerance = DEFAULT_TOLERANCE,
): Promise<void> {
  const ready = inputs.every((x) => !Array.isArray(x) && 'data' in x) ? (inputs as readonly GradcheckInput[]) : randomInputs(inputs as readonly InputSpec[], lo, hi);
  const results = await gradcheck(gpu, f, ready, randomArray(7, outSize));
  for (const r of results) {
    expect(r.maxAbsError, `${r.name}: max |analytic - numeric| ${r.maxAbsError} vs max |grad| ${r.maxAbs}`).toBeLessThanOrEqual(tolerance * Math.max(1, r.maxAbs));
  }
}

/**
 * Finite differences are only valid away from an activation's kinks (relu at 0, relu6 at 0 and 6):
 * asserts no pre-activation value lies within `margin` of one, and returns how many lie above each
 * kink so a test can also assert that both sides are exercised.
 */
export function expectAwayFromKinks(values: Float32Array, kinks: readonly number[], margin: number, label = ''): number[] {
  const above = kinks.map(() => 0);
  for (const v of values) {
    kinks.forEach((k, i) => {
      expect(Math.abs(v - k), `${label} pre-activation ${v} within ${margin} of the kink at ${k}`).toBeGreaterThan(margin);
      if (v > k) above[i]!++;
    });
  }
  return above;
}

/** f's values on these inputs, without a graph (every intermediate is freed). */
export async function evaluate(gpu: Gpu, f: (...xs: Tensor[]) => Tensor, inputs: readonly GradcheckInput[]): Promise<Float32Array> {
  const xs = inputs.map((input) => tensor(gpu, input.data, input.shape));
  const y = noGrad(() => f(...xs));
  const values = await y.read();
  y.release();
  for (const x of xs) x.release();
  return values;
}
