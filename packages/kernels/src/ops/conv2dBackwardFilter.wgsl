// conv2d backward w.r.t. the weights, one chunk of the reduction per invocation:
//   partial[chunk, ky, kx, ci, co] = sum_{(b, oy) in chunk, ox} x[b, iy, ix, ci] * dy[b, oy, ox, co]
//   iy = oy * stride_h - pad_top + ky * dilation_h,  ix = ox * stride_w - pad_left + kx * dilation_w
//   (pixels outside the image contribute 0). dweight = sum over chunks (the launcher reduces with
//   sumRows, or writes dweight directly when there is one chunk).
//
// Layouts: x NHWC [n, h, w, c_in]; dy NHWC [n, h_out, w_out, c_out];
// partial [chunks, k_h, k_w, c_in, c_out] (HWIO per chunk).
//
// Work split: invocation (gid.x, gid.y, gid.z) owns a TILE_CI x TILE_CO = 4 x 4 block of one tap
// (ky, kx) — co0 = 4 gid.x, ci0 = 4 gid.y, gid.z = tap * chunks + chunk — and sums it over the
// rows_per_chunk output rows (b, oy) of its chunk. For each pixel: one x vec4 (4 contiguous c_in) and
// one dy vec4 (4 contiguous c_out), 4 vec4 FMAs (an outer product). Per tap the range of ox whose ix
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

const TILE_CI = 4u;
const TILE_CO = 4u;

@compute @workgroup_size(16, 4, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let co0 = gid.x * TILE_CO;
  let ci0 = gid.y * TILE_CI;
  let taps = params.k_h * params.k_w;
  if (co0 >= params.c_out || ci0 >= params.c_in || gid.z >= taps * params.chunks) {
    return;
  }
  let tap = gid.z / params.chunks;
  let chunk = gid.z % params.chunks;
  let ky = tap / params.k_w;
  let kx = tap % params.k_w;
  let c_in = params.c_in;
  let c_out = params.c_out;
  let sw = i32(params.stride_w);

  // Channel offsets clamped to valid addresses; results for channels past the edge are discarded.
  let ci = vec4<u32>(min(ci0, c_in - 1u), min(ci0 + 1u, c_in - 1u), min(ci0 + 2u, c_in - 1u), min(ci0 + 3u, c_in - 1u));
  let co = vec4<u32>(min(co0, c_out - 1u), min(co0 + 1u, c_out - 1u), min(co0 + 2u, c_out - 1u), min(co0 + 3u, c_out - 1u));

  // Output columns ox whose input column ix = ox * stride_w + shift is inside [0, w).
  let shift = i32(kx * params.dilation_w) - i32(params.pad_left);
  let ox_first = select(0, (-shift + sw - 1) / sw, shift < 0);
  let ox_end = min(i32(params.w_out), select(0, (i32(params.w) - 1 - shift) / sw + 1, i32(params.w) - 1 - shift >= 0));

  var acc: array<vec4<f32>, TILE_CI>;
  let row_first = chunk * params.rows_per_chunk;
  let row_end = min(row_first + params.rows_per_chunk, params.n * params.h_out);
  for (var r = row_first; r < row_end; r++) {
    let b = r / params.h_out;
    let oy = r % params.h_out;
    let iy = i32(oy * params.stride_h + ky * params.dilation_h) - i32(params.pad_top);
    if (iy < 0 || iy >= i32(params.h)) {
      continue;
    }
    var x_at = ((b * params.h + u32(iy)) * params.w + u32(ox_first * sw + shift)) * c_in;
    var dy_at = (r * params.w_out + u32(ox_first)) * c_out;
    let x_step = u32(sw) * c_in;
    for (var ox = ox_first; ox < ox_end; ox++) {
      let xv = vec4<f32>(x[x_at + ci.x], x[x_at + ci.y], x[x_at + ci.z], x[x_at + ci.w]);
      let gv = vec4<f32>(dy[dy_at + co.x], dy[dy_at + co.y], dy[dy_at + co.z], dy[dy_at + co.w]);
      acc[0] = fma(vec4<f32>(xv.x), gv, acc[0]);
      acc[1] = fma(vec4<f32>(xv.y), gv, acc[1]);
      acc[2] = fma(vec4<f32>(xv.z), gv, acc[2]);
      acc[3] = fma(vec4<f32>(xv.w), gv, acc[3]);
      x_at += x_step;
      dy_at += c_out;
    }
  }

  let out_at = (chunk * taps + tap) * c_in;
  for (var i = 0u; i < TILE_CI; i++) {
    if (ci0 + i >= c_in) {
      break;
    }
    for (var j = 0u; j < TILE_CO; j++) {
      if (co0 + j < c_out) {
        partial[(out_at + ci0 + i) * c_out + co0 + j] = acc[i][j];
      }
    }
  }
}
