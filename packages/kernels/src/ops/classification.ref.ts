/**
 * Plain-loop references for the classification metrics, written from their definitions (not from
 * the kernels): top-k membership by sorting each row, the confusion matrix by argmax and counting.
 */

/**
 * 1 when labels[i] is among the topK largest logits of row i: x[i, y_i] >= the topK-th largest value
 * of the row (a tie at the boundary counts as inside). A NaN logit at the label gives 0.
 */
export function topkCorrectRef(x: ArrayLike<number>, labels: ArrayLike<number>, n: number, k: number, topK: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const row = Array.from({ length: k }, (_, j) => x[i * k + j]!);
    const sorted = row.filter((v) => !Number.isNaN(v)).sort((a, b) => b - a);
    const threshold = sorted[topK - 1] ?? -Infinity; // fewer than topK numbers: every number is inside
    const value = row[labels[i]!]!;
    out[i] = !Number.isNaN(value) && value >= threshold ? 1 : 0;
  }
  return out;
}

/** Index of the first maximum, skipping NaNs (class 0 when the whole row is NaN). */
export function argmaxRef(x: ArrayLike<number>, offset: number, k: number): number {
  let best = 0;
  for (let j = 0; j < k; j++) {
    const v = x[offset + j]!;
    const current = x[offset + best]!;
    if (!Number.isNaN(v) && (Number.isNaN(current) || v > current)) best = j;
  }
  return best;
}

/** counts[y * k + p]: rows with label y predicted (argmax) as p. */
export function confusionCountsRef(x: ArrayLike<number>, labels: ArrayLike<number>, n: number, k: number): Float64Array {
  const counts = new Float64Array(k * k);
  for (let i = 0; i < n; i++) counts[labels[i]! * k + argmaxRef(x, i * k, k)]++;
  return counts;
}
