// batch_norm_backward_reduce: per chunk of rows, the two sums every batch-norm gradient needs:
//   partial_dy[chunk, c]      = sum_{r in chunk} dy[r, c]                                 (-> dbeta)
//   partial_dy_xhat[chunk, c] = sum_{r in chunk} dy[r, c] * (x[r, c] - mean[c]) * invstd[c]  (-> dgamma)
// The launcher finishes both with sumRows over chunks.
//
// Layout: dy and x are NHWC seen as [rows = N*H*W, c]; mean and invstd are [c] (the statistics the
// forward pass normalized with: batch ones in training, running ones when frozen).
// Work split (as sumRows): invocation (c, chunk) walks one channel through one chunk of rows,
// reading dy and x once for both sums.
// Grid: x covers the channels; the chunk index is folded over y and z (as sumRows.wgsl, via
// linearWorkgroups), so N*H*W past 65,535 chunks of rows still fits the per-dimension limit.
// Surplus chunks of the last z row exit.

struct Params {
  rows: u32,
  c: u32,
  rows_per_chunk: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> invstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> partial_dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> partial_dy_xhat: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let col = gid.x;
  let chunk = gid.y + gid.z * groups.y;
  let first = chunk * params.rows_per_chunk;
  if (col >= params.c || first >= params.rows) {
    return;
  }
  let m = mean[col];
  let last = min(first + params.rows_per_chunk, params.rows);
  var sum_dy = 0.0;
  var sum_dy_centered = 0.0;
  for (var r = first; r < last; r++) {
    let i = r * params.c + col;
    let g = dy[i];
    sum_dy += g;
    sum_dy_centered = fma(g, x[i] - m, sum_dy_centered);
  }
  partial_dy[chunk * params.c + col] = sum_dy;
  // invstd is constant per channel, so it multiplies the chunk's sum once instead of every term.
  partial_dy_xhat[chunk * params.c + col] = sum_dy_centered * invstd[col];
}
