/**
 * Gradient checks for autograd primitives and composite blocks: the tape's gradients against
 * central finite differences of the same GPU forward. The forward runs in f32, so differences use a
 * large step (1e-2) on smooth inputs and the comparison a tolerance to match (see DEFAULT_TOLERANCE).
 */
import type { Gpu, Shape } from '@graft/kernels';
import { tensor } from './create.js';
import { backward, noGrad } from './tape.js';
import type { Tensor } from './tensor.js';
import { mul } from './ops/elementwise.js';
import { sumAllOp } from './ops/reduce.js';
import { reshape } from './ops/shape.js';

export interface GradcheckInput {
  name: string;
  data: Float32Array;
  shape: Shape;
}

export interface GradcheckResult {
  name: string;
  analytic: Float32Array;
  numeric: Float64Array;
  maxAbsError: number;
  maxAbs: number;
}

/**
 * f32 forward, step 1e-2: truncation error O(h²·f''') ~ 1e-4 relative for smooth ops; rounding
 * error ~ 2^-24·|L|/h ~ 1e-5·|L|. 2e-3 relative to the largest gradient covers both with margin.
 */
export const DEFAULT_TOLERANCE = 2e-3;

/**
 * L = sum(w ⊙ f(inputs)) with a fixed random weighting w; returns, per input, the tape's dL/dinput
 * and the finite-difference estimate. Every probe runs `f` again (under noGrad): an op with side
 * effects, like a training batch norm updating running statistics, must be made inert for the check.
 */
export async function gradcheck(
  gpu: Gpu,
  f: (...inputs: Tensor[]) => Tensor,
  inputs: readonly GradcheckInput[],
  weighting: Float32Array,
  step = 1e-2,
): Promise<GradcheckResult[]> {
  const leaves = inputs.map((input) => tensor(gpu, input.data, input.shape, { requiresGrad: true, name: input.name }));
  const weights = tensor(gpu, weighting, [weighting.length]);
  const loss = (xs: Tensor[]) => {
    const y = f(...xs);
    return sumAllOp(mul(reshapeFlat(y), weights));
  };
  const root = loss(leaves);
  backward(root);
  root.release();
  const results: GradcheckResult[] = [];
  for (let which = 0; which < inputs.length; which++) {
    const analytic = await leaves[which]!.grad!.read();
    const base = inputs[which]!.data;
    const numeric = new Float64Array(base.length);
    for (let i = 0; i < base.length; i++) {
      const probe = async (delta: number) => {
        const shifted = Float32Array.from(base);
        shifted[i]! += delta;
        const xs = inputs.map((input, j) => (j === which ? tensor(gpu, shifted, input.shape) : tensor(gpu, input.data, input.shape)));
        const value = noGrad(() => loss(xs));
        const [v] = await value.read();
        value.release();
        for (const x of xs) x.release();
        return v!;
      };
      numeric[i] = ((await probe(step)) - (await probe(-step))) / (2 * step);
    }
    let maxAbsError = 0;
    let maxAbs = 0;
    for (let i = 0; i < base.length; i++) {
      maxAbsError = Math.max(maxAbsError, Math.abs(analytic[i]! - numeric[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(numeric[i]!));
    }
    results.push({ name: inputs[which]!.name, analytic, numeric, maxAbsError, maxAbs });
  }
  for (const leaf of leaves) leaf.release();
  weights.release();
  return results;
}

function reshapeFlat(y: Tensor): Tensor {
  return reshape(y, [y.size]);
}
