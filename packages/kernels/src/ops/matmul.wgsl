// matmul: C[m, n] = act( sum_k opA[m, k] * opB[k, n] + bias[n] )
//
// Layouts (row-major): A is [M, K], or [K, M] when trans_a; B is [K, N], or [N, K] when trans_b;
// bias is [N] (read only when has_bias = 1); C is [M, N]. Dense layers are y = x W^T (trans_b,
// PyTorch's [out, in] weights); a 1x1 convolution over NHWC is [N*H*W, C_in] x [C_in, C_out].
// activation: 0 none, 1 relu, 2 relu6.
//
// Work split: each invocation computes a TILE_M x TILE_N = 4 x 4 block of C in registers; a
// workgroup of 8 x 8 invocations covers a 32 x 32 block. No workgroup memory: on CPU drivers
// (lavapipe) barriers and shared memory cost more than they save, while register blocking
// raises the FMA-to-load ratio from 1:2 to 4:1. Rows and columns past the edge are clamped to
// valid addresses and their results discarded, so the k loop has no bounds checks.
// trans_a / trans_b are override constants: they change the address pattern of every load.

struct Params {
  m: u32,
  n: u32,
  k: u32,
  has_bias: u32,
  activation: u32,
}

override trans_a: bool = false;
override trans_b: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

const TILE_M = 4u;
const TILE_N = 4u;

fn activate(x: f32) -> f32 {
  switch params.activation {
    case 1u: { return max(x, 0.0); }
    case 2u: { return clamp(x, 0.0, 6.0); }
    default: { return x; }
  }
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row0 = gid.y * TILE_M;
  let col0 = gid.x * TILE_N;
  if (row0 >= params.m || col0 >= params.n) {
    return;
  }
  let m = params.m;
  let n = params.n;
  let k = params.k;

  // Element (r, kk) of opA sits at a_row[r] + kk * a_step; element (kk, c) of opB at b_col[c] + kk * b_step.
  var a_row: array<u32, 4>;
  var b_col: array<u32, 4>;
  for (var i = 0u; i < TILE_M; i++) {
    let r = min(row0 + i, m - 1u);
    a_row[i] = select(r * k, r, trans_a);
  }
  for (var j = 0u; j < TILE_N; j++) {
    let col = min(col0 + j, n - 1u);
    b_col[j] = select(col, col * k, trans_b);
  }
  let a_step = select(1u, m, trans_a);
  let b_step = select(n, 1u, trans_b);

  var acc: array<vec4<f32>, 4>;
  for (var kk = 0u; kk < k; kk++) {
    let b_vec = vec4<f32>(
      b[b_col[0] + kk * b_step],
      b[b_col[1] + kk * b_step],
      b[b_col[2] + kk * b_step],
      b[b_col[3] + kk * b_step],
    );
    for (var i = 0u; i < TILE_M; i++) {
      acc[i] = fma(vec4<f32>(a[a_row[i] + kk * a_step]), b_vec, acc[i]);
    }
  }

  for (var i = 0u; i < TILE_M; i++) {
    let r = row0 + i;
    if (r >= m) {
      break;
    }
    for (var j = 0u; j < TILE_N; j++) {
      let col = col0 + j;
      if (col < n) {
        var value = acc[i][j];
        if (params.has_bias == 1u) {
          value += bias[col];
        }
        c[r * n + col] = activate(value);
      }
    }
  }
}
