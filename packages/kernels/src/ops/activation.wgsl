// activation: y = act(x), act by `activation` (runtime/validate.ts activationCode):
//   0 none   y = x
//   1 relu   y = max(x, 0)
//   2 relu6  y = min(max(x, 0), 6)
//
// Standalone activation for producers that cannot fuse it. Layout: flat, any shape. Work split:
// each invocation computes ELEMENTS_PER_INVOCATION consecutive elements as one vec4; the flat
// index folds a two-dimensional grid (used past the per-dimension workgroup limit) back together.

struct Params {
  size: u32,
  activation: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

const ELEMENTS_PER_INVOCATION = 4u;
const WORKGROUP_SIZE = 64u;

fn activate(v: vec4<f32>) -> vec4<f32> {
  switch params.activation {
    case 1u: { return max(v, vec4<f32>(0.0)); }
    case 2u: { return clamp(v, vec4<f32>(0.0), vec4<f32>(6.0)); }
    default: { return v; }
  }
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let first = (gid.x + gid.y * groups.x * WORKGROUP_SIZE) * ELEMENTS_PER_INVOCATION;
  let size = params.size;
  if (first >= size) {
    return;
  }
  var v: vec4<f32>;
  for (var j = 0u; j < ELEMENTS_PER_INVOCATION; j++) {
    v[j] = x[min(first + j, size - 1u)];
  }
  let result = activate(v);
  for (var j = 0u; j < ELEMENTS_PER_INVOCATION; j++) {
    if (first + j < size) {
      y[first + j] = result[j];
    }
  }
}
