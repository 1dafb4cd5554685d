// softmax (row-wise, for prediction): p[i, j] = exp(x[i, j] - m_i) / sum_j exp(x[i, j] - m_i),
// m_i = max_j x[i, j]. Subtracting the row maximum keeps every exp in (0, 1], so logits of any finite
// size give no overflow; the largest entry's exp is exactly 1, so the sum is >= 1.
//
// Layout: x and p are [n, k] row-major. Work split: invocation i owns row i (the same split as
// softmaxCrossEntropy.wgsl, and for the same measured reason: docs/kernels/losses.md).
// Grid: rows run along a line of invocations folded into x and y by the launcher (runtime/workgroups.ts,
// linearWorkgroups), so more than 65,535 * ROWS_PER_WORKGROUP rows still fit the per-dimension
// workgroup limit; the row index is recovered from both axes, and surplus invocations exit.

struct Params {
  n: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> p: array<f32>;

const ROWS_PER_WORKGROUP = 16u;

@compute @workgroup_size(ROWS_PER_WORKGROUP, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * ROWS_PER_WORKGROUP;
  if (i >= params.n) {
    return;
  }
  let row = i * params.k;
  var m = x[row];
  for (var j = 1u; j < params.k; j++) {
    m = max(m, x[row + j]);
  }
  var s = 0.0;
  for (var j = 0u; j < params.k; j++) {
    s += exp(x[row + j] - m);
  }
  let inv_s = 1.0 / s;
  for (var j = 0u; j < params.k; j++) {
    p[row + j] = exp(x[row + j] - m) * inv_s;
  }
}
