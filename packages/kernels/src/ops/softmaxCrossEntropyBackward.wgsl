// softmax_cross_entropy_backward: dx[i, j] = residual[i, j] * g_i / normaliser
//   residual = d losses[i] / d x[i, j], saved by softmaxCrossEntropy.wgsl (softmax - target without weights)
//   g_i = upstream[0] for reductions 'mean' (0) and 'sum' (1); upstream[i] for 'none' (2)
//   normaliser = weight_sum[0] (sum_i w[y_i]) for a weighted 'mean', n for an unweighted 'mean', else 1
// Reading g and the normaliser from GPU tensors means no CPU readback between forward and backward.
//
// Layout: residual and dx are [n, k] row-major, flat. Work split: each invocation computes
// ELEMENTS_PER_INVOCATION consecutive elements (the same flat split as the elementwise kernels; the
// launcher may fold the workgroups over two grid dimensions past the per-dimension limit).

struct Params {
  n: u32,
  k: u32,
  reduction: u32,
  has_weight: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> residual: array<f32>;
@group(0) @binding(2) var<storage, read> upstream: array<f32>;
@group(0) @binding(3) var<storage, read> weight_sum: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

const ELEMENTS_PER_INVOCATION = 4u;
const WORKGROUP_SIZE = 64u;
const REDUCTION_MEAN = 0u;
const REDUCTION_NONE = 2u;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let invocation = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  let first = invocation * ELEMENTS_PER_INVOCATION;
  let size = params.n * params.k;
  if (first >= size) {
    return;
  }
  var normaliser = 1.0;
  if (params.reduction == REDUCTION_MEAN) {
    normaliser = f32(params.n);
    if (params.has_weight == 1u) {
      normaliser = weight_sum[0];
    }
  }
  let scale = upstream[0] / normaliser;
  let last = min(first + ELEMENTS_PER_INVOCATION, size);
  for (var e = first; e < last; e++) {
    var g = scale;
    if (params.reduction == REDUCTION_NONE) {
      g = upstream[e / params.k];
    }
    dx[e] = residual[e] * g;
  }
}
