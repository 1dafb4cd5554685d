// conv2d forward (groups = 1):
//   y[b, oy, ox, co] = act( bias[co] + sum_{ky, kx, ci} x[b, iy, ix, ci] * weight[ky, kx, ci, co] )
//   iy = oy * stride_h - pad_top + ky * dilation_h,  ix = ox * stride_w - pad_left + kx * dilation_w,
//   x read as 0 outside [0, h) x [0, w) (explicit / TF-'same' padding is resolved by the launcher).
//
// Layouts: x NHWC [n, h, w, c_in]; weight HWIO [k_h, k_w, c_in, c_out]; bias [c_out] (read only when
// has_bias = 1), or [2, c_out] scale and shift rows when scale_shift = 1 (a fused frozen batch norm:
// y = act(fma(sum, scale[co], shift[co]))); y NHWC [n, h_out, w_out, c_out]. activation: 0 none, 1 relu, 2 relu6.
//
// Work split: a workgroup owns TILE_X = 16 consecutive output pixels in (b, oy, ox) order (they may
// span rows and images, so no output width wastes lanes); each of its wg_size invocations owns a
// block of consecutive output channels of them, held in registers: 16 channels (four vec4s) in
// main_vec4_wide, 8 (two vec4s) in main_vec4 and main. Pixels come from the workgroup id, channels
// from the invocation. The launcher picks main_vec4_wide when c_out % 4 == 0 and c_out >= 128 (at
// least 8 channel blocks of 16, so a SIMD vector of lanes fills), main_vec4 for other c_out % 4 == 0,
// main otherwise; wg_size is the number of channel blocks rounded up to a power of two, at most 32.
//
// Why (measured on lavapipe, the software Vulkan driver; see docs/kernels/conv2d.md for the table):
// lavapipe runs a workgroup on one CPU thread, 8 neighbouring invocations as the lanes of 8-wide SIMD
// registers. A storage load whose address is the same expression in every lane (here x: the pixels
// come from the workgroup id) compiles to one scalar load and a broadcast; a load whose address
// differs per lane (the weights) becomes a loop over the lanes with a bounds check each. The previous
// kernel had 8 lanes share pixels through local_invocation_id.y, which the compiler cannot prove
// uniform, so every x load was an 8-lane gather of one address. Per (ky, kx, ci) step the wide kernel
// now does 16 broadcast x loads and 4 per-lane vec4 weight loads for 64 vec4 FMAs, loads first and
// FMAs after (interleaving cuts the FMAs into small basic blocks). Time against the previous 8 x 8
// kernel with pixels from the invocation (batch 8, +bias+relu, 3x3 layers 56x56x64 .. 7x7x512 and the
// 7x7/2 stem; shared machine, +-15%): x from the workgroup id, 8 px x 8 ch, vec4 weights 0.72-0.93;
// 16 flattened pixels x 8 ch 0.55-0.83; final (16 channels per lane at c_out >= 128) 0.45-0.76.
// Rejected: 16 x 16 at c_out = 64 (4 channel blocks leave half of each SIMD vector idle) 1.4x slower
// than 16 x 8; 32 px x 4 ch and 16 x 4 1.2-2.2x slower; 24 x 8 no better, 8 x 16 within noise; x read as
// vec4 (4 channels per uniform load, c_in % 4 == 0) 1.3-1.45x slower. Dropping the outside-image
// select changed nothing; with the x loads stubbed out the kernel ran in ~0.6 of the time and with
// the weight loads stubbed out ~0.7, so the loads, not the FMAs, still bound it.
// Every accumulator is a named variable, not an array indexed in a loop.
//
// No workgroup memory: barriers cost more than the reuse saves on CPU drivers. Pixels past the end
// are clamped to the last one, channels past c_out to the last column: their loads stay in bounds and
// their results are discarded, so the ci loop has no branches; pixels whose window position falls
// outside the image read 0 through a select. Workgroups past maxComputeWorkgroupsPerDimension continue
// in the z dimension of the grid.

struct Params {
  n: u32,
  h: u32,
  w: u32,
  c_in: u32,
  h_out: u32,
  w_out: u32,
  c_out: u32,
  k_h: u32,
  k_w: u32,
  stride_h: u32,
  stride_w: u32,
  dilation_h: u32,
  dilation_w: u32,
  pad_top: u32,
  pad_left: u32,
  has_bias: u32,
  scale_shift: u32,
  activation: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// The weights, bound once: `weight` by entry point main, `weight4` by main_vec4 (each uses only one).
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> weight4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

const TILE_X = 16u;
const VEC_CO = 2u;
const TILE_CO = 8u; // VEC_CO vec4s: main_vec4 and main
const WIDE_TILE_CO = 16u; // main_vec4_wide: four vec4s
override wg_size: u32 = 8u;

alias Pair = array<vec4<f32>, VEC_CO>;
alias Quad = array<vec4<f32>, 4>;

fn activate(v: vec4<f32>) -> vec4<f32> {
  switch params.activation {
    case 1u: { return max(v, vec4<f32>(0.0)); }
    case 2u: { return clamp(v, vec4<f32>(0.0), vec4<f32>(6.0)); }
    default: { return v; }
  }
}

// The workgroup's pixels: TILE_X consecutive output pixels in (b, oy, ox) order, which may span
// output rows and images. first is the flat index of the first; pixels past the end are clamped to
// the last one (their results are not stored).
struct Pixels {
  first: u32,
  image_row: array<i32, TILE_X>, // b * h: the first input row of the pixel's image
  iy0: array<i32, TILE_X>, // oy * stride_h - pad_top
  ix0: array<i32, TILE_X>, // ox * stride_w - pad_left
}

fn pixels_of(group: vec3<u32>, groups: vec3<u32>) -> Pixels {
  var px: Pixels;
  px.first = (group.z * groups.y + group.y) * TILE_X;
  let last = params.n * params.h_out * params.w_out - 1u;
  for (var p = 0u; p < TILE_X; p++) {
    let flat = min(px.first + p, last);
    let ox = flat % params.w_out;
    let out_row = flat / params.w_out;
    px.image_row[p] = i32(out_row / params.h_out * params.h);
    px.iy0[p] = i32(out_row % params.h_out * params.stride_h) - i32(params.pad_top);
    px.ix0[p] = i32(ox * params.stride_w) - i32(params.pad_left);
  }
  return px;
}

// Where x[b, iy, ix, 0] sits for each pixel at kernel offset (ky, kx); 0 for pixels outside.
struct Window {
  at: array<u32, TILE_X>,
  inside: array<bool, TILE_X>,
}

fn window(px: Pixels, ky: u32, kx: u32) -> Window {
  var win: Window;
  let dy = i32(ky * params.dilation_h);
  let dx = i32(kx * params.dilation_w);
  for (var p = 0u; p < TILE_X; p++) {
    let iy = px.iy0[p] + dy;
    let ix = px.ix0[p] + dx;
    win.inside[p] = iy >= 0 && iy < i32(params.h) && ix >= 0 && ix < i32(params.w);
    win.at[p] = select(0u, u32((px.image_row[p] + iy) * i32(params.w) + ix) * params.c_in, win.inside[p]);
  }
  return win;
}

// x at channel ci for the block's pixels (0 outside). The same address in every invocation.
fn x_values(win: Window, ci: u32) -> array<f32, TILE_X> {
  var v: array<f32, TILE_X>;
  for (var p = 0u; p < TILE_X; p++) {
    v[p] = select(0.0, x[win.at[p] + ci], win.inside[p]);
  }
  return v;
}

fn fma_pair(acc: Pair, xv: f32, w: Pair) -> Pair {
  let s = vec4<f32>(xv);
  return Pair(fma(s, w[0], acc[0]), fma(s, w[1], acc[1]));
}

fn fma_quad(acc: Quad, xv: f32, w: Quad) -> Quad {
  let s = vec4<f32>(xv);
  return Quad(fma(s, w[0], acc[0]), fma(s, w[1], acc[1]), fma(s, w[2], acc[2]), fma(s, w[3], acc[3]));
}

fn low(q: Quad) -> Pair {
  return Pair(q[0], q[1]);
}

fn high(q: Quad) -> Pair {
  return Pair(q[2], q[3]);
}

// Writes act(fma(acc, scale, shift)) for the pixels and channels that exist: [scale, shift] is
// [1, bias] with a bias (fma(acc, 1, b) is acc + b exactly), the scale and shift rows of a fused
// frozen batch norm when scale_shift = 1 (the bias binding then holds [2, c_out]; batch_norm_apply's
// formula, so fused equals conv then batch norm bit for bit), [1, 0] otherwise. A runtime loop over
// pixels keeps the shader small (compile time).
fn store_tile(tile: array<Pair, TILE_X>, first: u32, co0: u32) {
  let c_out = params.c_out;
  let fused = params.scale_shift == 1u;
  var scale_v: Pair;
  var shift_v: Pair;
  for (var i = 0u; i < TILE_CO; i++) {
    let co = min(co0 + i, c_out - 1u);
    scale_v[i / 4u][i % 4u] = select(1.0, bias[co], fused);
    shift_v[i / 4u][i % 4u] = select(0.0, bias[select(co, c_out + co, fused)], fused || params.has_bias == 1u);
  }
  let pixels = min(TILE_X, params.n * params.h_out * params.w_out - first);
  for (var p = 0u; p < pixels; p++) {
    let y_at = (first + p) * c_out + co0;
    for (var j = 0u; j < VEC_CO; j++) {
      let v = activate(fma(tile[p][j], scale_v[j], shift_v[j]));
      for (var i = 0u; i < 4u; i++) {
        if (co0 + 4u * j + i < c_out) {
          y[y_at + 4u * j + i] = v[i];
        }
      }
    }
  }
}

@compute @workgroup_size(wg_size)
fn main_vec4_wide(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let px = pixels_of(group, groups);
  let co0 = (group.x * wg_size + lane) * WIDE_TILE_CO;
  if (co0 >= params.c_out || px.first >= params.n * params.h_out * params.w_out) {
    return;
  }
  let c_in = params.c_in;
  let c_out4 = params.c_out / 4u;
  // This invocation's four vec4 columns, clamped to the last one.
  let col0 = co0 / 4u;
  let col1 = min(col0 + 1u, c_out4 - 1u);
  let col2 = min(col0 + 2u, c_out4 - 1u);
  let col3 = min(col0 + 3u, c_out4 - 1u);
  var acc0: Quad; var acc1: Quad; var acc2: Quad; var acc3: Quad;
  var acc4: Quad; var acc5: Quad; var acc6: Quad; var acc7: Quad;
  var acc8: Quad; var acc9: Quad; var acc10: Quad; var acc11: Quad;
  var acc12: Quad; var acc13: Quad; var acc14: Quad; var acc15: Quad;
  for (var ky = 0u; ky < params.k_h; ky++) {
    for (var kx = 0u; kx < params.k_w; kx++) {
      let win = window(px, ky, kx);
      var w_at = (ky * params.k_w + kx) * c_in * c_out4;
      for (var ci = 0u; ci < c_in; ci++) {
        // All loads first, then the FMAs (see the header).
        let w = Quad(weight4[w_at + col0], weight4[w_at + col1], weight4[w_at + col2], weight4[w_at + col3]);
        let xv = x_values(win, ci);
        acc0 = fma_quad(acc0, xv[0], w);
        acc1 = fma_quad(acc1, xv[1], w);
        acc2 = fma_quad(acc2, xv[2], w);
        acc3 = fma_quad(acc3, xv[3], w);
        acc4 = fma_quad(acc4, xv[4], w);
        acc5 = fma_quad(acc5, xv[5], w);
        acc6 = fma_quad(acc6, xv[6], w);
        acc7 = fma_quad(acc7, xv[7], w);
        acc8 = fma_quad(acc8, xv[8], w);
        acc9 = fma_quad(acc9, xv[9], w);
        acc10 = fma_quad(acc10, xv[10], w);
        acc11 = fma_quad(acc11, xv[11], w);
        acc12 = fma_quad(acc12, xv[12], w);
        acc13 = fma_quad(acc13, xv[13], w);
        acc14 = fma_quad(acc14, xv[14], w);
        acc15 = fma_quad(acc15, xv[15], w);
        w_at += c_out4;
      }
    }
  }
  store_tile(array<Pair, TILE_X>(
    low(acc0), low(acc1), low(acc2), low(acc3), low(acc4), low(acc5), low(acc6), low(acc7),
    low(acc8), low(acc9), low(acc10), low(acc11), low(acc12), low(acc13), low(acc14), low(acc15),
  ), px.first, co0);
  store_tile(array<Pair, TILE_X>(
    high(acc0), high(acc1), high(acc2), high(acc3), high(acc4), high(acc5), high(acc6), high(acc7),
    high(acc8), high(acc9), high(acc10), high(acc11), high(acc12), high(acc13), high(acc14), high(acc15),
  ), px.first, co0 + TILE_CO);
}

@compute @workgroup_size(wg_size)
fn main_vec4(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let px = pixels_of(group, groups);
  let co0 = (group.x * wg_size + lane) * TILE_CO;
  if (co0 >= params.c_out || px.first >= params.n * params.h_out * params.w_out) {
    return;
  }
  let c_in = params.c_in;
  let c_out4 = params.c_out / 4u;
  // This invocation's two vec4 columns, the second clamped to the last one.
  let col0 = co0 / 4u;
  let col1 = min(col0 + 1u, c_out4 - 1u);
  var acc0: Pair; var acc1: Pair; var acc2: Pair; var acc3: Pair;
  var acc4: Pair; var acc5: Pair; var acc6: Pair; var acc7: Pair;
  var acc8: Pair; var acc9: Pair; var acc10: Pair; var acc11: Pair;
  var acc12: Pair; var acc13: Pair; var acc14: Pair; var acc15: Pair;
  for (var ky = 0u; ky < params.k_h; ky++) {
    for (var kx = 0u; kx < params.k_w; kx++) {
      let win = window(px, ky, kx);
      var w_at = (ky * params.k_w + kx) * c_in * c_out4;
      for (var ci = 0u; ci < c_in; ci++) {
        // All loads first, then the FMAs (see the header).
        let w = Pair(weight4[w_at + col0], weight4[w_at + col1]);
        let xv = x_values(win, ci);
        acc0 = fma_pair(acc0, xv[0], w);
        acc1 = fma_pair(acc1, xv[1], w);
        acc2 = fma_pair(acc2, xv[2], w);
        acc3 = fma_pair(acc3, xv[3], w);
        acc4 = fma_pair(acc4, xv[4], w);
        acc5 = fma_pair(acc5, xv[5], w);
        acc6 = fma_pair(acc6, xv[6], w);
        acc7 = fma_pair(acc7, xv[7], w);
        acc8 = fma_pair(acc8, xv[8], w);
        acc9 = fma_pair(acc9, xv[9], w);
        acc10 = fma_pair(acc10, xv[10], w);
        acc11 = fma_pair(acc11, xv[11], w);
        acc12 = fma_pair(acc12, xv[12], w);
        acc13 = fma_pair(acc13, xv[13], w);
        acc14 = fma_pair(acc14, xv[14], w);
        acc15 = fma_pair(acc15, xv[15], w);
        w_at += c_out4;
      }
    }
  }
  store_tile(array<Pair, TILE_X>(
    acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7, acc8, acc9, acc10, acc11, acc12, acc13, acc14, acc15,
  ), px.first, co0);
}

@compute @workgroup_size(wg_size)
fn main(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let px = pixels_of(group, groups);
  let co0 = (group.x * wg_size + lane) * TILE_CO;
  if (co0 >= params.c_out || px.first >= params.n * params.h_out * params.w_out) {
    return;
  }
  let c_in = params.c_in;
  let c_out = params.c_out;
  // This invocation's columns, clamped to the last one so the loads stay in bounds.
  var col: array<u32, TILE_CO>;
  for (var i = 0u; i < TILE_CO; i++) {
    col[i] = min(co0 + i, c_out - 1u);
  }
  var acc0: Pair; var acc1: Pair; var acc2: Pair; var acc3: Pair;
  var acc4: Pair; var acc5: Pair; var acc6: Pair; var acc7: Pair;
  var acc8: Pair; var acc9: Pair; var acc10: Pair; var acc11: Pair;
  var acc12: Pair; var acc13: Pair; var acc14: Pair; var acc15: Pair;
  for (var ky = 0u; ky < params.k_h; ky++) {
    for (var kx = 0u; kx < params.k_w; kx++) {
      let win = window(px, ky, kx);
      var w_at = (ky * params.k_w + kx) * c_in * c_out;
      for (var ci = 0u; ci < c_in; ci++) {
        let w = Pair(
          vec4<f32>(weight[w_at + col[0]], weight[w_at + col[1]], weight[w_at + col[2]], weight[w_at + col[3]]),
          vec4<f32>(weight[w_at + col[4]], weight[w_at + col[5]], weight[w_at + col[6]], weight[w_at + col[7]]),
        );
        let xv = x_values(win, ci);
        acc0 = fma_pair(acc0, xv[0], w);
        acc1 = fma_pair(acc1, xv[1], w);
        acc2 = fma_pair(acc2, xv[2], w);
        acc3 = fma_pair(acc3, xv[3], w);
        acc4 = fma_pair(acc4, xv[4], w);
        acc5 = fma_pair(acc5, xv[5], w);
        acc6 = fma_pair(acc6, xv[6], w);
        acc7 = fma_pair(acc7, xv[7], w);
        acc8 = fma_pair(acc8, xv[8], w);
        acc9 = fma_pair(acc9, xv[9], w);
        acc10 = fma_pair(acc10, xv[10], w);
        acc11 = fma_pair(acc11, xv[11], w);
        acc12 = fma_pair(acc12, xv[12], w);
        acc13 = fma_pair(acc13, xv[13], w);
        acc14 = fma_pair(acc14, xv[14], w);
        acc15 = fma_pair(acc15, xv[15], w);
        w_at += c_out;
      }
    }
  }
  store_tile(array<Pair, TILE_X>(
    acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7, acc8, acc9, acc10, acc11, acc12, acc13, acc14, acc15,
  ), px.first, co0);
}
