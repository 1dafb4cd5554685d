// batch_norm_apply: y[i] = act(x[i] * scale[c] + shift[c]),  c = i % C
//
// The elementwise pass of batch normalization in both modes: the launcher's finalize kernel folds
// gamma, beta, mean and invstd (batch statistics in training, running ones in inference) into one
// per-channel scale and shift, so normalizing costs one FMA per element. activation: 0 none, 1 relu, 2 relu6.
//
// Layout: x and y are NHWC, flat; scale_shift is [2, C] (row 0 scale, row 1 shift).
// Work split: each invocation computes ELEMENTS = 4 consecutive outputs (the channel index is
// taken once and stepped, wrapping at C, so any C works, not only multiples of 4). The grid is
// 2D only because one dimension holds at most 65535 workgroups.

struct Params {
  size: u32,
  c: u32,
  activation: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> scale_shift: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const ELEMENTS = 4u;

fn activate(v: f32) -> f32 {
  switch params.activation {
    case 1u: { return max(v, 0.0); }
    case 2u: { return clamp(v, 0.0, 6.0); }
    default: { return v; }
  }
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let first = (gid.y * groups.x * 64u + gid.x) * ELEMENTS;
  if (first >= params.size) {
    return;
  }
  let c = params.c;
  let last = min(first + ELEMENTS, params.size);
  var ch = first % c;
  for (var i = first; i < last; i++) {
    y[i] = activate(fma(x[i], scale_shift[ch], scale_shift[c + ch]));
    ch += 1u;
    if (ch == c) {
      ch = 0u;
    }
  }
}
