/**
 * Plain-loop reference for binary cross-entropy with logits (PyTorch's
 * F.binary_cross_entropy_with_logits with `pos_weight`), written from the math. Works in f64.
 *
 *   loss_e = -( pw[c] * t * log sigmoid(x) + (1 - t) * log(1 - sigmoid(x)) )
 *          =   pw[c] * t * softplus(-x)    + (1 - t) * softplus(x)
 * with c the class (last-dimension index) of element e; pw = 1 without pos_weight.
 * 'mean' divides the sum by the number of elements.
 */
import type { Reduction } from './softmaxCrossEntropy.ref.js';

export interface BceRefOptions {
  /** One per class: length = size of the last dimension (1 for rank-1 logits). */
  posWeight?: ArrayLike<number>;
  reduction?: Reduction;
}

/** log(1 + e^z) without overflow. */
function softplus(z: number): number {
  return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/** x and t viewed as [size / classes, classes]. Loss as [1] (mean, sum) or [size] (none). */
export function sigmoidBinaryCrossEntropyRef(
  x: ArrayLike<number>,
  t: ArrayLike<number>,
  classes: number,
  options: BceRefOptions = {},
): Float64Array {
  const losses = new Float64Array(x.length);
  for (let e = 0; e < x.length; e++) {
    const pw = options.posWeight ? options.posWeight[e % classes]! : 1;
    losses[e] = pw * t[e]! * softplus(-x[e]!) + (1 - t[e]!) * softplus(x[e]!);
  }
  const reduction = options.reduction ?? 'mean';
  if (reduction === 'none') return losses;
  let total = 0;
  for (const l of losses) total += l;
  return Float64Array.of(reduction === 'mean' ? total / x.length : total);
}

/**
 * d loss / d x, upstream [1] (mean, sum) or [size] (none):
 *   dx_e = g_e * ( (1 - t) * sigmoid(x) - pw * t * sigmoid(-x) ) / normaliser
 */
export function sigmoidBinaryCrossEntropyBackwardRef(
  upstream: ArrayLike<number>,
  x: ArrayLike<number>,
  t: ArrayLike<number>,
  classes: number,
  options: BceRefOptions = {},
): Float64Array {
  const reduction = options.reduction ?? 'mean';
  const normaliser = reduction === 'mean' ? x.length : 1;
  const dx = new Float64Array(x.length);
  for (let e = 0; e < x.length; e++) {
    const pw = options.posWeight ? options.posWeight[e % classes]! : 1;
    const g = reduction === 'none' ? upstream[e]! : upstream[0]!;
    dx[e] = (g * ((1 - t[e]!) * sigmoid(x[e]!) - pw * t[e]! * sigmoid(-x[e]!))) / normaliser;
  }
  return dx;
}
