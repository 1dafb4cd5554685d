// topk_correct: correct[i] = 1 when labels[i] is among the top_k highest logits of row i, else 0 (f32)
//
//   correct[i] = [ #{ j : x[i, j] > x[i, y_i] } < top_k ],      y_i = labels[i]
//
// i.e. the label's logit is >= the top_k-th largest logit of its row. Ties at the boundary count the
// label as inside (optimistic); on distinct values this is exactly torch.topk(x, top_k) containing
// y_i. With top_k = 1 it is accuracy, except that a label tied with the row maximum counts as correct
// here while argmax (confusion_counts) picks the first maximum.
// A NaN logit at the label gives 0 (no comparison with NaN is true, so the count alone would say 1).
// A label >= k cannot be checked by the launcher (it is GPU data): that row gives NaN, so any mean
// of the output is NaN and the fault cannot pass unseen.
// The output is f32 0/1 rather than u32 so that its mean (top-k accuracy) is a plain sumRows.
//
// Layouts: x [n, k] row-major f32; labels [n] u32; correct [n] f32.
// Work split: invocation i owns row i and reads it once, counting logits above the label's. One row
// per invocation, like softmax.wgsl: a workgroup-wide reduction per row needs shared memory and
// barriers, which lavapipe runs slowly (docs/kernels/losses.md), and n (the batch) already gives
// enough rows to fill the machine. Counting is also cheaper than selecting the top_k values, and
// costs the same for every top_k.
// Grid: rows run along a line of invocations folded into x and y (runtime/workgroups.ts,
// linearWorkgroups); surplus invocations exit.

struct Params {
  n: u32,
  k: u32,
  top_k: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> correct: array<f32>;

// A quiet NaN built at run time (a NaN constant expression is a WGSL compile error).
var<private> nan_bits: u32 = 0x7fc00000u;

const ROWS_PER_WORKGROUP = 16u;

// Exponent all ones and a non-zero mantissa. Tested on the bits because the driver may fold v != v
// away (lavapipe did so in confusionCounts.wgsl).
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
    correct[i] = bitcast<f32>(nan_bits);
    return;
  }
  let row = i * k;
  let v = x[row + label];
  var above = 0u;
  for (var j = 0u; j < k; j++) {
    above += select(0u, 1u, x[row + j] > v);
  }
  correct[i] = select(0.0, 1.0, above < params.top_k && !is_nan(v));
}
