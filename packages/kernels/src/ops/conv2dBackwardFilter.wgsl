// conv2d backward w.r.t. the weights, one chunk of the reduction per invocation:
//   partial[chunk, ky, kx, ci, co] = sum_{(b, oy) in chunk, ox} x[b, iy, ix, ci] * dy[b, oy, ox, co]
//   iy = oy * stride_h - pad_top + ky * dilation_h,  ix = ox * stride_w - pad_left + kx * dilation_w
//   (pixels outside the image contribute 0). dweight = sum over chunks (the launcher reduces with
//   sumRows, or writes dweight directly when there is one chunk).
//
// Layouts: x NHWC [n, h, w, c_in]; dy NHWC [n, h_out, w_out, c_out];
// partial [chunks, k_h, k_w, c_in, c_out] (HWIO per chunk).
//
// Work split: invocation gid.x owns a TILE_CI x TILE_CO = 8 x 8 block of one tap (ky, kx); gid.x
// enumerates (chunk, tap, ci block, co block) row-major, co block fastest, in a 1-D grid so that no
// lane of a SIMD vector idles when c_in or c_out is small (see conv2d.wgsl). It sums its block over the
// rows_per_chunk output rows (b, oy) of its chunk. For each pixel: 8 contiguous x values and 8
// contiguous dy values, 16 vec4 FMAs (an outer product): 64 multiply-adds per 16 loads, the block
// size measured fastest for the forward kernel (loads dominate on lavapipe). With c_in = 3 (an RGB
// stem) 5 of 8 rows are clamped duplicates: wasted work, but a small share of a network's dweight. Per tap the range of ox whose ix
// lands inside the image is computed once, so the pixel loop has no bounds tests. Chunking keeps
// enough invocations busy when the weight is small (7x7x3x64 has 588 blocks) while bounding each
// invocation's serial loop; the launcher picks chunks so that partials stay small.

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
  rows_per_chunk: u32,
  chunks: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

const TILE_CI = 8u;
const TILE_CO4 = 2u; // output channels in vec4s: TILE_CO = 8
const TILE_CO = 4u * TILE_CO4;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let taps = params.k_h * params.k_w;
  let co_blocks = (params.c_out + TILE_CO - 1u) / TILE_CO;
  let ci_blocks = (params.c_in + TILE_CI - 1u) / TILE_CI;
  let co0 = (gid.x % co_blocks) * TILE_CO;
  let ci0 = (gid.x / co_blocks % ci_blocks) * TILE_CI;
  let tap = gid.x / (co_blocks * ci_blocks) % taps;
  let chunk = gid.x / (co_blocks * ci_blocks * taps);
  if (chunk >= params.chunks) {
    return;
  }
  let ky = tap / params.k_w;
  let kx = tap % params.k_w;
  let c_in = params.c_in;
  let c_out = params.c_out;
  let sw = i32(params.stride_w);

  // Channel offsets clamped to valid addresses; results for channels past the edge are discarded.
  var ci: array<u32, TILE_CI>;
  for (var i = 0u; i < TILE_CI; i++) {
    ci[i] = min(ci0 + i, c_in - 1u);
  }
  var co: array<vec4<u32>, TILE_CO4>;
  for (var j = 0u; j < TILE_CO4; j++) {
    let c = co0 + 4u * j;
    co[j] = vec4<u32>(min(c, c_out - 1u), min(c + 1u, c_out - 1u), min(c + 2u, c_out - 1u), min(c + 3u, c_out - 1u));
  }

  // Output columns ox whose input column ix = ox * stride_w + shift is inside [0, w).
  let shift = i32(kx * params.dilation_w) - i32(params.pad_left);
  let ox_first = select(0, (-shift + sw - 1) / sw, shift < 0);
  let ox_end = min(i32(params.w_out), select(0, (i32(params.w) - 1 - shift) / sw + 1, i32(params.w) - 1 - shift >= 0));

  var acc: array<array<vec4<f32>, TILE_CO4>, TILE_CI>;
  let row_first = chunk * params.rows_per_chunk;
  let row_end = min(row_first + params.rows_per_chunk, params.n * params.h_out);
  for (var r = row_first; r < row_end; r++) {
    let b = r / params.h_out;
    let oy = r % params.h_out;
    let iy = i32(oy * params.stride_h + ky * params.dilation_h) - i32(params.pad_top);
    if (iy < 0 || iy >= i32(params.h) || ox_first >= ox_end) {
      continue;
    }
    var x_at = ((b * params.h + u32(iy)) * params.w + u32(ox_first * sw + shift)) * c_in;
    var dy_at = (r * params.w_out + u32(ox_first)) * c_out;
    let x_step = u32(sw) * c_in;
    for (var ox = ox_first; ox < ox_end; ox++) {
      var gv: array<vec4<f32>, TILE_CO4>;
      for (var j = 0u; j < TILE_CO4; j++) {
        gv[j] = vec4<f32>(dy[dy_at + co[j].x], dy[dy_at + co[j].y], dy[dy_at + co[j].z], dy[dy_at + co[j].w]);
      }
      for (var i = 0u; i < TILE_CI; i++) {
        let xv = vec4<f32>(x[x_at + ci[i]]);
        for (var j = 0u; j < TILE_CO4; j++) {
          acc[i][j] = fma(xv, gv[j], acc[i][j]);
        }
      }
      x_at += x_step;
      dy_at += c_out;
    }
  }

  let out_at = (chunk * taps + tap) * c_in;
  for (var i = 0u; i < TILE_CI; i++) {
    if (ci0 + i >= c_in) {
      break;
    }
    let row_at = (out_at + ci0 + i) * c_out + co0;
    for (var j = 0u; j < TILE_CO4; j++) {
      for (var k = 0u; k < 4u; k++) {
        if (co0 + 4u * j + k < c_out) {
          partial[row_at + 4u * j + k] = acc[i][j][k];
        }
      }
    }
  }
}
