// sum_rows: out[chunk, c] = scale * sum_{r in chunk} x[r, c],  chunk = rows [chunk*rows_per_chunk, ...)
//
// Layout: x is [rows, cols] row-major (an NHWC tensor seen as [N*H*W, C] reduces per channel;
// any tensor seen as [size, 1] reduces to a scalar). out is [ceil(rows / rows_per_chunk), cols].
// The launcher applies this pass repeatedly until one row is left, so every pass is wide:
// invocation (c, chunk) sums one column over one chunk of rows. Neighbouring invocations read
// neighbouring columns, so each row is read contiguously.
//
// Grid: x covers the columns; the chunk index is folded over y and z (runtime/workgroups.ts,
// linearWorkgroups with one invocation per workgroup along y), so a full reduction (cols = 1) of
// more than 65,535 chunks still fits the per-dimension workgroup limit. Surplus chunks exit.

struct Params {
  rows: u32,
  cols: u32,
  rows_per_chunk: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let col = gid.x;
  let chunk = gid.y + gid.z * groups.y;
  let first = chunk * params.rows_per_chunk;
  if (col >= params.cols || first >= params.rows) {
    return;
  }
  let last = min(first + params.rows_per_chunk, params.rows);
  var sum = 0.0;
  for (var r = first; r < last; r++) {
    sum += x[r * params.cols + col];
  }
  out[chunk * params.cols + col] = sum * params.scale;
}
