// matmul: C[m, n] = act( sum_k opA[m, k] * opB[k, n] + bias[n] )
//
// Layouts (row-major): A is [M, K], or [K, M] when trans_a; B is [K, N], or [N, K] when trans_b;
// bias is [N] (read only when has_bias = 1), or [2, N] scale and shift rows when scale_shift = 1
// (a frozen batch norm fused into a 1x1 convolution: C = act(fma(sum, scale[n], shift[n]))); C is [M, N]. Dense layers are y = x W^T (trans_b,
// PyTorch's [out, in] weights); a 1x1 convolution over NHWC is [N*H*W, C_in] x [C_in, C_out].
// activation: 0 none, 1 relu, 2 relu6.
//
// Work split: a workgroup owns TILE_M = 8 rows of C; each of its wg_size invocations owns
// TILE_N = 16 consecutive columns of those rows, an 8 x 16 block held in registers as 8 rows of
// VEC_N = 4 vec4 accumulators. Rows come from the workgroup id, columns from the invocation.
//
// Why this tiling (measured on lavapipe, a CPU Vulkan driver): lavapipe runs a workgroup on one
// CPU thread, its invocations as the lanes of 8-wide SIMD registers. A storage load whose address
// is the same in every invocation (here opA[row, kk]: the rows come from the workgroup id) becomes
// one scalar load and a broadcast; a load whose address differs per invocation (opB[kk, col])
// becomes a loop over the lanes, with a bounds-check branch per lane and per component. So each k
// step does 8 cheap opA loads and 16 expensive opB loads for 128 FMAs; the accumulators do not fit
// in the 16 AVX registers, but spilling them costs less than the loads a smaller tile would add.
// Each bounds-checked load also ends a basic block, so a k step issues all its loads first and
// then the FMAs: interleaving them cut the FMAs into small blocks and halved the speed. The
// epilogue loops over rows at run time (store_tile) to keep the shader small enough to compile fast.
// Result: 1024^3 went from ~7 to ~20 GFLOP/s (table in docs/kernels/matmul.md).
// Workgroup shared memory is not used: barriers are costly there and the loads would not get
// cheaper. A real GPU wants the opposite: a cooperative tile of A and B staged in workgroup
// memory by coalesced loads (e.g. 64 x 64 per workgroup, 4 x 4 per invocation) and far fewer
// accumulators per invocation, since 128 live floats would cripple its occupancy.
//
// Two entry points share this tiling. main_vec4 reads opB as vec4 (one load per 4 columns): it
// needs !trans_b and N % 4 == 0, and binds B as array<vec4<f32>>. main reads opB one element at a
// time and handles every layout; it runs at under half main_vec4's speed with trans_b (16 per-lane
// loads per k step instead of 4), so from M >= 64 the launcher first copies a transposed B to
// [K, N] with the transpose kernel and takes main_vec4. (An entry point loading the stored [N, K]
// B as vec4s along k, 16 per lane per 4 k steps, was tried: slower than main at most shapes,
// 1.5 s to compile.) Rows and columns past the edge are clamped to valid addresses
// and their results discarded, so the k loop has no bounds checks of its own.
// trans_a / trans_b are override constants: they change the address pattern of every load.
// wg_size (8, 16 or 32) is chosen by the launcher so narrow matrices do not leave lanes idle.
// Row blocks past maxComputeWorkgroupsPerDimension continue in the z dimension of the grid.
//
// main_narrow serves N <= 32 (MobileNetV2's projections to 16, 24, 32 channels): with 16 columns per
// lane, N = 16 leaves 7 of 8 SIMD lanes idle; one vec4 of columns per lane keeps N / 4 lanes busy.
// Measured 1.3-1.95x main_vec4 at N = 16-32 (e.g. 100352 x 16 x 32: 51 -> 26 ms) and 0.6-0.8x at
// N = 64-128, where main_vec4's 4 vec4 loads per 128 FMAs win back more than the idle lanes cost.
// Tried and dropped (docs/kernels/matmul.md): lanes owning rows with B loads workgroup-uniform
// (0.1-0.5x), and A read as vec4 along k (0.6-1.1x).

struct Params {
  m: u32,
  n: u32,
  k: u32,
  has_bias: u32,
  scale_shift: u32,
  activation: u32,
}

override trans_a: bool = false;
override trans_b: bool = false;
override wg_size: u32 = 32u;

const TILE_M = 8u;
const VEC_N = 4u;
const TILE_N = 16u; // VEC_N vec4s

alias Row = array<vec4<f32>, VEC_N>;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
// B, bound once: `b` by entry point main, `b4` by main_vec4 (each entry point uses only one).
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> bias4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> c4: array<vec4<f32>>;

fn activate(x: vec4<f32>) -> vec4<f32> {
  switch params.activation {
    case 1u: { return max(x, vec4<f32>(0.0)); }
    case 2u: { return clamp(x, vec4<f32>(0.0), vec4<f32>(6.0)); }
    default: { return x; }
  }
}

// The first row of C this workgroup owns.
fn first_row(group: vec3<u32>, groups: vec3<u32>) -> u32 {
  return (group.z * groups.y + group.y) * TILE_M;
}

// Where opA[row0 + i, 0] sits, for each row of the tile; rows past the edge read row m - 1.
fn a_rows(row0: u32) -> array<u32, TILE_M> {
  var rows: array<u32, TILE_M>;
  for (var i = 0u; i < TILE_M; i++) {
    let r = min(row0 + i, params.m - 1u);
    rows[i] = select(r * params.k, r, trans_a);
  }
  return rows;
}

// opA[row0 + i, kk] for the tile's rows. Every invocation of the workgroup reads the same addresses.
fn a_column(rows: array<u32, TILE_M>, kk: u32) -> array<f32, TILE_M> {
  let step = select(1u, params.m, trans_a);
  var values: array<f32, TILE_M>;
  for (var i = 0u; i < TILE_M; i++) {
    values[i] = a[rows[i] + kk * step];
  }
  return values;
}

fn fma_row(acc: Row, a_value: f32, b_row: Row) -> Row {
  let s = vec4<f32>(a_value);
  return Row(fma(s, b_row[0], acc[0]), fma(s, b_row[1], acc[1]), fma(s, b_row[2], acc[2]), fma(s, b_row[3], acc[3]));
}

// opB[kk, col], the column clamped to the last one.
fn b_at(kk: u32, col: u32) -> f32 {
  let cc = min(col, params.n - 1u);
  return b[select(kk * params.n + cc, cc * params.k + kk, trans_b)];
}

// The epilogue's per-column affine map for columns col0 .. col0 + 15 (clamped to the last column):
// [scale, shift] = [1, bias] with a bias, [scale_shift[0, col], scale_shift[1, col]] for a fused
// frozen batch norm (the bias binding then holds [2, N]), [1, 0] otherwise. fma(acc, 1, bias) is
// acc + bias exactly, and fma(acc, scale, shift) is batch_norm_apply's formula, so fused and
// unfused results are bit-identical.
fn affine_rows(col0: u32) -> array<Row, 2> {
  var scale: Row;
  var shift: Row;
  for (var j = 0u; j < TILE_N; j++) {
    let col = min(col0 + j, params.n - 1u);
    scale[j / 4u][j % 4u] = select(1.0, bias[col], params.scale_shift == 1u);
    shift[j / 4u][j % 4u] = select(0.0, bias[select(col, params.n + col, params.scale_shift == 1u)], params.has_bias == 1u || params.scale_shift == 1u);
  }
  return array<Row, 2>(scale, shift);
}

// Writes act(acc + bias) to the tile's rows that exist. The loop over rows is a runtime loop on
// purpose: unrolled, its 128 bounds-checked stores took lavapipe's LLVM 8 s to compile.
fn store_tile(tile: array<Row, TILE_M>, row0: u32, col0: u32) {
  let affine = affine_rows(col0);
  let rows = select(0u, min(TILE_M, params.m - row0), row0 < params.m);
  for (var i = 0u; i < rows; i++) {
    let r = row0 + i;
    for (var j = 0u; j < VEC_N; j++) {
      let value = activate(fma(tile[i][j], affine[0][j], affine[1][j]));
      for (var q = 0u; q < 4u; q++) {
        let col = col0 + 4u * j + q;
        if (col < params.n) {
          c[r * params.n + col] = value[q];
        }
      }
    }
  }
}

@compute @workgroup_size(wg_size)
fn main(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let row0 = first_row(group, groups);
  let col0 = (group.x * wg_size + lane) * TILE_N;
  if (col0 >= params.n) {
    return; // an idle lane: lavapipe's per-lane loads skip it
  }
  let rows = a_rows(row0);
  var acc0: Row; var acc1: Row; var acc2: Row; var acc3: Row;
  var acc4: Row; var acc5: Row; var acc6: Row; var acc7: Row;
  for (var kk = 0u; kk < params.k; kk++) {
    var b_row: Row;
    for (var j = 0u; j < VEC_N; j++) {
      let col = col0 + 4u * j;
      b_row[j] = vec4<f32>(b_at(kk, col), b_at(kk, col + 1u), b_at(kk, col + 2u), b_at(kk, col + 3u));
    }
    let a_col = a_column(rows, kk);
    // Explicit rows: written as a loop over a 2-D array, lavapipe ran this kernel at half speed.
    acc0 = fma_row(acc0, a_col[0], b_row);
    acc1 = fma_row(acc1, a_col[1], b_row);
    acc2 = fma_row(acc2, a_col[2], b_row);
    acc3 = fma_row(acc3, a_col[3], b_row);
    acc4 = fma_row(acc4, a_col[4], b_row);
    acc5 = fma_row(acc5, a_col[5], b_row);
    acc6 = fma_row(acc6, a_col[6], b_row);
    acc7 = fma_row(acc7, a_col[7], b_row);
  }
  store_tile(array<Row, TILE_M>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7), row0, col0);
}

@compute @workgroup_size(wg_size)
fn main_vec4(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let row0 = first_row(group, groups);
  let col0 = (group.x * wg_size + lane) * TILE_N;
  if (col0 >= params.n) {
    return; // an idle lane: lavapipe's per-lane loads skip it
  }
  let rows = a_rows(row0);
  let n4 = params.n / 4u;
  var acc0: Row; var acc1: Row; var acc2: Row; var acc3: Row;
  var acc4: Row; var acc5: Row; var acc6: Row; var acc7: Row;
  for (var kk = 0u; kk < params.k; kk++) {
    var b_row: Row;
    for (var j = 0u; j < VEC_N; j++) {
      b_row[j] = b4[kk * n4 + min(col0 / 4u + j, n4 - 1u)];
    }
    let a_col = a_column(rows, kk);
    acc0 = fma_row(acc0, a_col[0], b_row);
    acc1 = fma_row(acc1, a_col[1], b_row);
    acc2 = fma_row(acc2, a_col[2], b_row);
    acc3 = fma_row(acc3, a_col[3], b_row);
    acc4 = fma_row(acc4, a_col[4], b_row);
    acc5 = fma_row(acc5, a_col[5], b_row);
    acc6 = fma_row(acc6, a_col[6], b_row);
    acc7 = fma_row(acc7, a_col[7], b_row);
  }
  store_tile(array<Row, TILE_M>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7), row0, col0);
}

// The epilogue's affine map (see affine_rows) for column vec4 v, through the vec4 view of the bias binding.
fn affine4(x: vec4<f32>, v: u32, n4: u32) -> vec4<f32> {
  if (params.scale_shift == 1u) {
    return fma(x, bias4[v], bias4[n4 + v]);
  }
  if (params.has_bias == 1u) {
    return fma(x, vec4<f32>(1.0), bias4[v]);
  }
  return x;
}

// main_narrow: for N <= 32 (see the header): each invocation owns ONE vec4 of columns of TILE_M
// rows, so N = 16 keeps 4 of 8 lanes busy instead of 1 of 8. Needs !trans_b, N % 4 == 0.
@compute @workgroup_size(8)
fn main_narrow(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let row0 = first_row(group, groups);
  let v = group.x * 8u + lane;
  let n4 = params.n / 4u;
  if (v >= n4) {
    return;
  }
  let rows = a_rows(row0);
  var acc0 = vec4<f32>(); var acc1 = vec4<f32>(); var acc2 = vec4<f32>(); var acc3 = vec4<f32>();
  var acc4 = vec4<f32>(); var acc5 = vec4<f32>(); var acc6 = vec4<f32>(); var acc7 = vec4<f32>();
  for (var kk = 0u; kk < params.k; kk++) {
    let b_vec = b4[kk * n4 + v];
    let a_col = a_column(rows, kk);
    acc0 = fma(vec4<f32>(a_col[0]), b_vec, acc0);
    acc1 = fma(vec4<f32>(a_col[1]), b_vec, acc1);
    acc2 = fma(vec4<f32>(a_col[2]), b_vec, acc2);
    acc3 = fma(vec4<f32>(a_col[3]), b_vec, acc3);
    acc4 = fma(vec4<f32>(a_col[4]), b_vec, acc4);
    acc5 = fma(vec4<f32>(a_col[5]), b_vec, acc5);
    acc6 = fma(vec4<f32>(a_col[6]), b_vec, acc6);
    acc7 = fma(vec4<f32>(a_col[7]), b_vec, acc7);
  }
  let acc = array<vec4<f32>, TILE_M>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7);
  let rows_here = select(0u, min(TILE_M, params.m - row0), row0 < params.m);
  for (var i = 0u; i < rows_here; i++) {
    c4[(row0 + i) * n4 + v] = activate(affine4(acc[i], v, n4));
  }
}
