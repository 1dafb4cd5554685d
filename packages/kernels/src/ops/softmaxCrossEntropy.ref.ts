/**
 * Plain-loop reference for softmax cross-entropy with logits, written from the math (PyTorch's
 * F.cross_entropy with `weight` and `label_smoothing`), not from the kernel. Works in f64.
 *
 *   log p[i, j] = x[i, j] - logsumexp_j x[i, :]
 *   c[i, j]     = (1 - eps) * w[y_i] * [j == y_i] + (eps / k) * w[j]      (w = 1 without weights)
 *   loss_i      = -sum_j c[i, j] * log p[i, j]
 *   'mean' = sum_i loss_i / sum_i w[y_i];  'sum' = sum_i loss_i;  'none' = [loss_i]
 */

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyRefOptions {
  labelSmoothing?: number;
  weight?: ArrayLike<number>;
  reduction?: Reduction;
}

/** Row-wise softmax of x viewed as [n, k]. */
export function softmaxRef(x: ArrayLike<number>, n: number, k: number): Float64Array {
  const p = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, x[i * k + j]!);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(x[i * k + j]! - max);
    for (let j = 0; j < k; j++) p[i * k + j] = Math.exp(x[i * k + j]! - max) / sum;
  }
  return p;
}

/** The loss coefficient c[i, j] of log p[i, j] (see the header). */
function coefficient(j: number, label: number, k: number, eps: number, weight: ArrayLike<number> | undefined): number {
  const w = (c: number) => (weight ? weight[c]! : 1);
  return (j === label ? (1 - eps) * w(label) : 0) + (eps / k) * w(j);
}

/** Loss as [1] (mean, sum) or [n] (none). */
export function softmaxCrossEntropyRef(
  x: ArrayLike<number>,
  labels: ArrayLike<number>,
  n: number,
  k: number,
  options: CrossEntropyRefOptions = {},
): Float64Array {
  const eps = options.labelSmoothing ?? 0;
  const losses = new Float64Array(n);
  let weightSum = 0;
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, x[i * k + j]!);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(x[i * k + j]! - max);
    const logSumExp = max + Math.log(sum);
    for (let j = 0; j < k; j++) losses[i] -= coefficient(j, labels[i]!, k, eps, options.weight) * (x[i * k + j]! - logSumExp);
    weightSum += options.weight ? options.weight[labels[i]!]! : 1;
  }
  const reduction = options.reduction ?? 'mean';
  if (reduction === 'none') return losses;
  let total = 0;
  for (let i = 0; i < n; i++) total += losses[i]!;
  return Float64Array.of(reduction === 'mean' ? total / weightSum : total);
}

/**
 * d loss / d x given the upstream gradient ([1] for mean/sum, [n] for none):
 *   dx[i, j] = g_i * (C_i * p[i, j] - c[i, j]) / normaliser,   C_i = sum_j c[i, j]
 * which is g * (p - target) / normaliser without class weights (C_i = 1).
 */
export function softmaxCrossEntropyBackwardRef(
  upstream: ArrayLike<number>,
  x: ArrayLike<number>,
  labels: ArrayLike<number>,
  n: number,
  k: number,
  options: CrossEntropyRefOptions = {},
): Float64Array {
  const eps = options.labelSmoothing ?? 0;
  const reduction = options.reduction ?? 'mean';
  const p = softmaxRef(x, n, k);
  let normaliser = 1;
  if (reduction === 'mean') {
    normaliser = 0;
    for (let i = 0; i < n; i++) normaliser += options.weight ? options.weight[labels[i]!]! : 1;
  }
  const dx = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const g = (reduction === 'none' ? upstream[i]! : upstream[0]!) / normaliser;
    let total = 0;
    for (let j = 0; j < k; j++) total += coefficient(j, labels[i]!, k, eps, options.weight);
    for (let j = 0; j < k; j++) dx[i * k + j] = g * (total * p[i * k + j]! - coefficient(j, labels[i]!, k, eps, options.weight));
  }
  return dx;
}
