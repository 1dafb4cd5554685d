// elementwise_unary: y[i] = f(x[i]) for one op chosen by `op`:
//   0 copy      y = x
//   1 neg       y = -x
//   2 exp       y = e^x
//   3 log       y = ln x          (NaN below 0, -inf at 0, as in IEEE / PyTorch)
//   4 sqrt      y = sqrt x        (NaN below 0)
//   5 square    y = x * x
//   6 affine    y = alpha * x + beta   ("scale by a constant")
//   7 fill      y = beta          (x is not read; the launcher binds a placeholder)
//
// Layout: x and y are flat arrays of `size` elements (any shape). Work split: each invocation
// computes ELEMENTS_PER_INVOCATION consecutive elements as one vec4, so the op is evaluated once
// per four elements; the launcher may spread the workgroups over two grid dimensions when one
// would pass the device's per-dimension limit, and the flat index folds them back together.
// Indices past the end are clamped for the loads and their results discarded.

struct Params {
  size: u32,
  op: u32,
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

const ELEMENTS_PER_INVOCATION = 4u;
const WORKGROUP_SIZE = 64u;

fn apply(v: vec4<f32>) -> vec4<f32> {
  switch params.op {
    case 1u: { return -v; }
    case 2u: { return exp(v); }
    case 3u: { return log(v); }
    case 4u: { return sqrt(v); }
    case 5u: { return v * v; }
    case 6u: { return fma(vec4<f32>(params.alpha), v, vec4<f32>(params.beta)); }
    case 7u: { return vec4<f32>(params.beta); }
    default: { return v; }
  }
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let invocation = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  let first = invocation * ELEMENTS_PER_INVOCATION;
  let size = params.size;
  if (first >= size) {
    return;
  }
  var v = vec4<f32>(0.0);
  if (params.op != 7u) {
    for (var j = 0u; j < ELEMENTS_PER_INVOCATION; j++) {
      v[j] = x[min(first + j, size - 1u)];
    }
  }
  let result = apply(v);
  for (var j = 0u; j < ELEMENTS_PER_INVOCATION; j++) {
    if (first + j < size) {
      y[first + j] = result[j];
    }
  }
}
