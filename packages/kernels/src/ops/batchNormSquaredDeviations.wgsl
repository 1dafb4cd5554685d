// batch_norm_squared_deviations: partial[chunk, c] = sum_{r in chunk} (x[r, c] - mean[c])^2
//
// The second pass of the two-pass batch variance: the launcher first takes mean[c] with sumRows,
// then this pass sums squared deviations from it, and sumRows finishes the [chunks, c] partials
// (scaled by 1 / count, giving the biased variance). Two passes instead of E[x^2] - E[x]^2 because
// the latter subtracts two nearly equal f32 numbers when |mean| >> std (activations after a ReLU,
// pixel values): their difference keeps only the low bits and can even come out negative.
//
// Layout: x is NHWC seen as [rows = N*H*W, c]; mean is [c]; partial is [ceil(rows / rows_per_chunk), c].
// Work split (as sumRows): invocation (c, chunk) sums one channel over one chunk of rows, so
// neighbouring invocations read neighbouring addresses and there are c * chunks invocations of work.
// Grid: x covers the channels; the chunk index is folded over y and z (runtime/workgroups.ts,
// linearWorkgroups with one invocation per workgroup along y), so N*H*W past 65,535 chunks of rows
// still fits the per-dimension workgroup limit. Surplus chunks of the last z row exit.

struct Params {
  rows: u32,
  c: u32,
  rows_per_chunk: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

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
  var sum = 0.0;
  for (var r = first; r < last; r++) {
    let d = x[r * params.c + col] - m;
    sum = fma(d, d, sum);
  }
  partial[chunk * params.c + col] = sum;
}
