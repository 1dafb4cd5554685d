// confusion_counts: counts[y, p] += 1 for every row i, with y = labels[i] (true class) and
// p = argmax_j x[i, j] (predicted class; the first maximum on ties, like torch.argmax).
//
// Layouts: x [n, k] row-major f32; labels [n] u32; counts [k, k] u32 row-major (row = true label,
// column = prediction), zero-filled by the launcher before this pass.
// Work split: invocation i owns row i: it finds the row's argmax in one pass and adds 1 to one cell
// with atomicAdd. Why atomics: the output is a histogram, and many rows land in the same cell (a
// good classifier sends nearly every row to the diagonal), so the cells cannot be owned by
// invocations; the alternative without atomics (one-hot [n, k * k] rows summed by sumRows) moves
// n * k^2 values to count n events. One atomic add per row costs nothing beside the k loads.
// NaN logits are never predicted (torch.argmax would pick the first NaN): `>` is false against a NaN,
// and a NaN first logit is replaced by the next value. A row of NaNs predicts class 0. NaN is tested
// on the bits: lavapipe folded `best != best` to false (measured: a NaN first logit stayed predicted).
// A label >= k cannot be checked by the launcher (GPU data): that row is skipped rather than
// written out of bounds, so the counts then sum to less than n.
// Grid: rows along a line of invocations folded into x and y (runtime/workgroups.ts,
// linearWorkgroups); surplus invocations exit.

struct Params {
  n: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> counts: array<atomic<u32>>;

const ROWS_PER_WORKGROUP = 16u;

// Exponent all ones and a non-zero mantissa.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(ROWS_PER_WORKGROUP, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * ROWS_PER_WORKGROUP;
  if (i >= params.n) {
    return;
  }
  let k = params.k;
  let label = labels[i];
  if (label >= k) {
    return;
  }
  let row = i * k;
  var best = x[row];
  var predicted = 0u;
  for (var j = 1u; j < k; j++) {
    let value = x[row + j];
    if (value > best || (is_nan(best) && !is_nan(value))) {
      best = value;
      predicted = j;
    }
  }
  atomicAdd(&counts[label * k + predicted], 1u);
}
