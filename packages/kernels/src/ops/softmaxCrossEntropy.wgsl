// softmax_cross_entropy (forward, one row per invocation):
//   log p[i, j] = x[i, j] - lse_i,        lse_i = m_i + log(sum_j exp(x[i, j] - m_i)),  m_i = max_j x[i, j]
//   c[i, j]     = (1 - eps) * w[y_i] * [j == y_i] + (eps / k) * w[j]      (PyTorch's weight + label_smoothing)
//   losses[i]   = sum_j c[i, j] * (lse_i - x[i, j])
//   sample_weights[i] = w[y_i]            (the 'mean' normaliser is sum_i w[y_i], reduced by the launcher)
//   residual[i, j]    = C_i * p[i, j] - c[i, j],   C_i = sum_j c[i, j]
// residual is d losses[i] / d x[i, j]: the backward only scales it by upstream / normaliser, so it is
// what the forward saves (it equals softmax - target when there are no class weights).
// w = 1 when has_weight = 0. A label >= k cannot be checked by the launcher (it is GPU data): that row's
// loss, sample weight and residual are NaN, so the reduced loss is NaN and the fault cannot pass unseen.
//
// Layouts: x, residual [n, k] row-major; labels [n] u32; weight [k]; losses, sample_weights [n].
// Work split: invocation i owns row i and makes three passes over it (max; sum of exps and loss terms;
// residual). lse_i - x[i, j] is formed as (m_i - x[i, j]) + log(s_i), both finite, so logits of
// +-1e4 give no Inf or NaN. Why one row per invocation rather than a workgroup per row: see
// docs/kernels/losses.md (on lavapipe a shared-memory reduction per row measured slower at k = 1000).
// Grid: rows run along a line of invocations folded into x and y by the launcher (runtime/workgroups.ts,
// linearWorkgroups), so more than 65,535 * ROWS_PER_WORKGROUP rows still fit the per-dimension
// workgroup limit; the row index is recovered from both axes, and surplus invocations exit.

struct Params {
  n: u32,
  k: u32,
  smoothing: f32,
  has_weight: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read_write> losses: array<f32>;
@group(0) @binding(5) var<storage, read_write> sample_weights: array<f32>;
@group(0) @binding(6) var<storage, read_write> residual: array<f32>;

// A quiet NaN built at run time (a NaN constant expression is a WGSL compile error).
var<private> nan_bits: u32 = 0x7fc00000u;

// Reads weight only when present: an absent weight is bound to a 16-byte placeholder, and select()
// would evaluate weight[j] for every class regardless.
fn class_weight(j: u32) -> f32 {
  if (params.has_weight == 1u) {
    return weight[j];
  }
  return 1.0;
}

const ROWS_PER_WORKGROUP = 16u;

@compute @workgroup_size(ROWS_PER_WORKGROUP, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * ROWS_PER_WORKGROUP;
  if (i >= params.n) {
    return;
  }
  let k = params.k;
  let row = i * k;
  let label = labels[i];
  if (label >= k) {
    let nan = bitcast<f32>(nan_bits);
    losses[i] = nan;
    sample_weights[i] = nan;
    for (var j = 0u; j < k; j++) {
      residual[row + j] = nan;
    }
    return;
  }
  let on_label = (1.0 - params.smoothing) * class_weight(label); // c[i, y_i] minus its smoothing share
  let spread = params.smoothing / f32(k); // c[i, j] = spread * w[j] off the label

  var m = x[row];
  for (var j = 1u; j < k; j++) {
    m = max(m, x[row + j]);
  }

  var s = 0.0; // sum_j exp(x - m)
  var weighted_gap = 0.0; // sum_j w[j] * (m - x[i, j])
  var weight_total = 0.0; // sum_j w[j]
  for (var j = 0u; j < k; j++) {
    let gap = m - x[row + j];
    let w = class_weight(j);
    s += exp(-gap);
    weighted_gap += w * gap;
    weight_total += w;
  }
  let log_s = log(s);
  let total = on_label + spread * weight_total; // C_i
  // sum_j c[i, j] * ((m - x[i, j]) + log s)
  losses[i] = on_label * (m - x[row + label]) + spread * weighted_gap + total * log_s;
  sample_weights[i] = class_weight(label);

  let inv_s = 1.0 / s;
  for (var j = 0u; j < k; j++) {
    let p = exp(x[row + j] - m) * inv_s;
    residual[row + j] = total * p - spread * class_weight(j);
  }
  residual[row + label] -= on_label;
}
