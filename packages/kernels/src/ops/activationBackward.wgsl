// activation_backward: dx = dy * act'(y), the derivative read from the activation's OUTPUT y:
//   0 none   act' = 1
//   1 relu   act' = 1 where y > 0, else 0          (PyTorch threshold_backward: 0 at the kink)
//   2 relu6  act' = 1 where 0 < y < 6, else 0      (PyTorch hardtanh_backward: 0 at both bounds)
// Using y rather than the pre-activation lets every producer with a fused activation (conv,
// matmul, addActivation) keep only its output for the backward.
//
// Layout: dy, y, dx flat and of one shape. Work split as in activation.wgsl: a vec4 of
// consecutive elements per invocation, flat index over an up-to-two-dimensional grid.

struct Params {
  size: u32,
  activation: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

const ELEMENTS_PER_INVOCATION = 4u;
const WORKGROUP_SIZE = 64u;

fn passes(out: vec4<f32>) -> vec4<bool> {
  switch params.activation {
    case 1u: { return out > vec4<f32>(0.0); }
    case 2u: { return (out > vec4<f32>(0.0)) & (out < vec4<f32>(6.0)); }
    default: { return vec4<bool>(true); }
  }
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let first = (gid.x + gid.y * groups.x * WORKGROUP_SIZE) * ELEMENTS_PER_INVOCATION;
  let size = params.size;
  if (first >= size) {
    return;
  }
  var g: vec4<f32>;
  var out: vec4<f32>;
  for (var j = 0u; j < ELEMENTS_PER_INVOCATION; j++) {
    let i = min(first + j, size - 1u);
    g[j] = dy[i];
    out[j] = y[i];
  }
  let result = select(vec4<f32>(0.0), g, passes(out));
  for (var j = 0u; j < ELEMENTS_PER_INVOCATION; j++) {
    if (first + j < size) {
      dx[first + j] = result[j];
    }
  }
}
