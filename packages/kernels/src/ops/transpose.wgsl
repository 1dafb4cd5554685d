// transpose: y[c, r] = x[r, c], x stored [rows, cols] and y [cols, rows], both row-major.
//
// Used by matmul to turn a transposed B ([N, K]) into [K, N] once, so the product runs on matmul's
// fast main_vec4 path (see matmul.ts): one pass over K*N elements against M*N*K multiply-adds.
//
// main_vec4 (rows % 4 == 0 and cols % 4 == 0): each invocation moves one 4 x 4 block, with four
// vec4 loads (4 rows x 4 consecutive columns) and four vec4 stores (the same block's columns, which
// are rows of y). On lavapipe each per-lane load or store is a loop over the SIMD lanes, so moving
// 16 elements per 8 memory operations is what makes the pass cheap (~3x faster than one element
// per invocation, measured). Reassembling the vec4s costs nothing: lavapipe keeps each component in
// its own register. main (any shape) moves one element per invocation.
// Invocations are numbered along one line, the block (or element) of y in row-major order, so
// consecutive lanes store consecutive vec4s of y; lines longer than one grid dimension fold into
// rows of workgroups (runtime/workgroups.ts).

struct Params {
  rows: u32,
  cols: u32,
}

const WORKGROUP_SIZE = 64u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// x and y as vec4s, for main_vec4 (each entry point uses only one of the two views).
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let index = gid.x + gid.y * groups.x * WORKGROUP_SIZE; // y[c, r], row-major
  if (index >= params.rows * params.cols) {
    return;
  }
  let c = index / params.rows;
  let r = index % params.rows;
  y[index] = x[r * params.cols + c];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let rows4 = params.rows / 4u;
  let cols4 = params.cols / 4u;
  let index = gid.x + gid.y * groups.x * WORKGROUP_SIZE; // block (c4, r4), with r4 varying fastest
  if (index >= rows4 * cols4) {
    return;
  }
  let c4 = index / rows4;
  let r4 = index % rows4;
  let first = 4u * r4 * cols4 + c4; // x4 index of x[4 r4, 4 c4 .. 4 c4 + 3]
  let v0 = x4[first];
  let v1 = x4[first + cols4];
  let v2 = x4[first + 2u * cols4];
  let v3 = x4[first + 3u * cols4];
  let out = 4u * c4 * rows4 + r4; // y4 index of y[4 c4, 4 r4 .. 4 r4 + 3]
  y4[out] = vec4<f32>(v0.x, v1.x, v2.x, v3.x);
  y4[out + rows4] = vec4<f32>(v0.y, v1.y, v2.y, v3.y);
  y4[out + 2u * rows4] = vec4<f32>(v0.z, v1.z, v2.z, v3.z);
  y4[out + 3u * rows4] = vec4<f32>(v0.w, v1.w, v2.w, v3.w);
}
