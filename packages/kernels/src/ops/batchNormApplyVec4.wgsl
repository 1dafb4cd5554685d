// batch_norm_apply_vec4: y = act(x * scale[c] + shift[c]) four channels at a time, for C % 4 == 0.
//
// Same math as batch_norm_apply; the launcher picks this file when C is a multiple of 4, so every
// group of 4 consecutive elements is 4 channels of one pixel and loads, FMAs and stores are vec4.
// Layout: x and y NHWC seen as [size / 4] vec4; scale_shift [2, C] seen as [2, C / 4] vec4.
// Work split: each invocation computes VECS = 4 consecutive vec4s (16 outputs); 2D grid only to
// stay under 65535 workgroups per dimension.

struct Params {
  size_vec: u32,
  c_vec: u32,
  activation: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> scale_shift: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;

const VECS = 4u;

fn activate(v: vec4<f32>) -> vec4<f32> {
  switch params.activation {
    case 1u: { return max(v, vec4<f32>(0.0)); }
    case 2u: { return clamp(v, vec4<f32>(0.0), vec4<f32>(6.0)); }
    default: { return v; }
  }
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let first = (gid.y * groups.x * 64u + gid.x) * VECS;
  if (first >= params.size_vec) {
    return;
  }
  let c_vec = params.c_vec;
  let last = min(first + VECS, params.size_vec);
  var ch = first % c_vec;
  for (var i = first; i < last; i++) {
    y[i] = activate(fma(x[i], scale_shift[ch], scale_shift[c_vec + ch]));
    ch += 1u;
    if (ch == c_vec) {
      ch = 0u;
    }
  }
}
