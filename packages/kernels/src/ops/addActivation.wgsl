// add_activation (residual add): y = act(a + b), act 0 none, 1 relu, 2 relu6 (activationCode).
//
// The join of a ResNet block: the shortcut and the block's last BN output are summed and
// activated in one pass, so the sum never makes a round trip through memory. Its backward is
// activationBackward: da = db = dy * act'(y).
// Layout: a, b, y flat and of one shape. Work split: a vec4 of ELEMENTS_PER_INVOCATION
// consecutive elements per invocation; the flat index folds a two-dimensional grid (used past
// the per-dimension workgroup limit) back together. Loads past the end are clamped.

struct Params {
  size: u32,
  activation: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

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
  var sum: vec4<f32>;
  for (var j = 0u; j < ELEMENTS_PER_INVOCATION; j++) {
    let i = min(first + j, size - 1u);
    sum[j] = a[i] + b[i];
  }
  let result = activate(sum);
  for (var j = 0u; j < ELEMENTS_PER_INVOCATION; j++) {
    if (first + j < size) {
      y[first + j] = result[j];
    }
  }
}
