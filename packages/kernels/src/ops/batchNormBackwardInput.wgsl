// batch_norm_backward_input: dx for y = gamma * xhat + beta, xhat = (x - mean[c]) * invstd[c].
//
//   batch_statistics = 1 (training: mean and invstd were computed from this x, so they carry gradient):
//     dx = gamma * invstd / N * (N * dy - sum_dy[c] - xhat * sum_dy_xhat[c])
//   batch_statistics = 0 (frozen running statistics, the "affine" mode): dx = dy * gamma * invstd
// sum_dy and sum_dy_xhat are the per-channel sums from batch_norm_backward_reduce (dbeta, dgamma);
// N = count = N*H*W. gamma = 1 when has_gamma = 0.
//
// Layout: dy, x, dx NHWC flat; mean, invstd, gamma, sum_dy, sum_dy_xhat [C].
// Work split: as batch_norm_apply, ELEMENTS = 4 consecutive elements per invocation, the channel
// index stepped and wrapped at C; 2D grid only to stay under 65535 workgroups per dimension.

struct Params {
  size: u32,
  c: u32,
  count: u32,
  batch_statistics: u32,
  has_gamma: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> invstd: array<f32>;
@group(0) @binding(5) var<storage, read> gamma: array<f32>;
@group(0) @binding(6) var<storage, read> sum_dy: array<f32>;
@group(0) @binding(7) var<storage, read> sum_dy_xhat: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;

const ELEMENTS = 4u;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let first = (gid.y * groups.x * 64u + gid.x) * ELEMENTS;
  if (first >= params.size) {
    return;
  }
  let c = params.c;
  let last = min(first + ELEMENTS, params.size);
  let inv_count = 1.0 / f32(params.count);
  var ch = first % c;
  for (var i = first; i < last; i++) {
    // gamma is read only when present: an absent gamma is bound to a 16-byte placeholder, and
    // select() would evaluate the read regardless.
    let inv = invstd[ch];
    var scale = inv;
    if (params.has_gamma == 1u) {
      scale *= gamma[ch];
    }
    if (params.batch_statistics == 1u) {
      let xhat = (x[i] - mean[ch]) * inv;
      dx[i] = scale * (dy[i] - (sum_dy[ch] + xhat * sum_dy_xhat[ch]) * inv_count);
    } else {
      dx[i] = scale * dy[i];
    }
    ch += 1u;
    if (ch == c) {
      ch = 0u;
    }
  }
}
