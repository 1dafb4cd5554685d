// elementwise_binary: y[i] = a[i] (op) b[i mod b_size] for op 0 add, 1 sub, 2 mul, 3 div.
//
// Layout: a and y are flat arrays of `size` elements; b holds the trailing dimensions of a's shape
// (b_size = size for the same shape, C for a [C] operand against [..., C] NHWC data, 1 for a
// scalar), so "broadcast b over the leading dimensions" is exactly the index i mod b_size.
// Work split: each invocation computes ELEMENTS_PER_INVOCATION consecutive outputs as one vec4
// (the op is evaluated once per four elements); the flat index folds a two-dimensional grid back
// together for tensors whose workgroup count passes the per-dimension limit. Loads past the end
// are clamped and their results discarded.

struct Params {
  size: u32,
  b_size: u32,
  op: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const ELEMENTS_PER_INVOCATION = 4u;
const WORKGROUP_SIZE = 64u;

fn apply(u: vec4<f32>, v: vec4<f32>) -> vec4<f32> {
  switch params.op {
    case 1u: { return u - v; }
    case 2u: { return u * v; }
    case 3u: { return u / v; }
    default: { return u + v; }
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
  var u: vec4<f32>;
  var v: vec4<f32>;
  for (var j = 0u; j < ELEMENTS_PER_INVOCATION; j++) {
    let i = min(first + j, size - 1u);
    u[j] = a[i];
    v[j] = b[i % params.b_size];
  }
  let result = apply(u, v);
  for (var j = 0u; j < ELEMENTS_PER_INVOCATION; j++) {
    if (first + j < size) {
      y[first + j] = result[j];
    }
  }
}
