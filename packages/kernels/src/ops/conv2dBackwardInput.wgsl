// conv2d backward w.r.t. the input (a transposed convolution of dy):
//   dx[b, iy, ix, ci] = sum_{ky, kx, co} dy[b, oy, ox, co] * weight[ky, kx, ci, co]
//   over the (ky, kx) for which oy = (iy + pad_top - ky * dilation_h) / stride_h and
//   ox = (ix + pad_left - kx * dilation_w) / stride_w are whole numbers inside [0, h_out) x [0, w_out).
//
// Layouts: dy NHWC [n, h_out, w_out, c_out]; weight HWIO [k_h, k_w, c_in, c_out]; dx NHWC [n, h, w, c_in].
//
// Work split: invocation computes TILE_CI = 8 input channels (two vec4s) for TILE_X = 8 input pixels
// of one row (b, iy). A workgroup of 64 is ci_lanes channel blocks x (64 / ci_lanes) pixel blocks,
// channel blocks fastest, so a SIMD vector's dy loads share cache lines; ci_lanes is the override
// chosen as in conv2d.wgsl. Pixel blocks enumerate (b, iy, x block) row-major. The pixels are stride_w apart, ix = base + p * stride_w,
// so they share the remainder (ix + pad_left - kx * dilation_w) mod stride_w: for every kx either all
// of them receive a contribution (from TILE_X neighbouring dy pixels) or none does, and the test is
// uniform. The x blocks enumerate, per span of stride_w * TILE_X columns, the stride_w phases of that span.
// Per (ky, kx, co): 8 weight loads (HWIO rows c_out apart) + 8 dy loads for 16 vec4 FMAs; the 8 x 8
// block size is the one measured fastest for the forward kernel (see conv2d.wgsl): loads dominate on
// lavapipe. No workgroup memory, for the same reason as conv2d.wgsl (lavapipe barriers are expensive).

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
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

const TILE_CI4 = 2u; // input channels in vec4s: TILE_CI = 8
const TILE_CI = 4u * TILE_CI4;
const TILE_X = 8u;
const GROUP_SIZE = 64u;
override ci_lanes: u32 = 8u;

@compute @workgroup_size(ci_lanes, GROUP_SIZE / ci_lanes, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let pixel_block = wid.y * (GROUP_SIZE / ci_lanes) + lid.y;
  let sw = params.stride_w;
  let x_blocks = (params.w + sw * TILE_X - 1u) / (sw * TILE_X) * sw;
  let in_row = pixel_block / x_blocks; // b * h + iy
  let x_block = pixel_block % x_blocks;
  let span = x_block / sw;
  let phase = x_block % sw;
  let ix0 = span * sw * TILE_X + phase;
  let ci0 = (wid.x * ci_lanes + lid.x) * TILE_CI;
  if (ci0 >= params.c_in || ix0 >= params.w || in_row >= params.n * params.h) {
    return;
  }
  let b = in_row / params.h;
  let iy = in_row % params.h;
  let c_in = params.c_in;
  let c_out = params.c_out;

  // Offsets of the input channels' weight rows, clamped so loads stay in bounds.
  var ci_row: array<vec4<u32>, TILE_CI4>;
  for (var j = 0u; j < TILE_CI4; j++) {
    let c = ci0 + 4u * j;
    ci_row[j] = vec4<u32>(min(c, c_in - 1u), min(c + 1u, c_in - 1u), min(c + 2u, c_in - 1u), min(c + 3u, c_in - 1u)) * c_out;
  }

  var acc: array<array<vec4<f32>, TILE_CI4>, TILE_X>;
  for (var ky = 0u; ky < params.k_h; ky++) {
    let ty = i32(iy + params.pad_top) - i32(ky * params.dilation_h);
    if (ty < 0 || ty % i32(params.stride_h) != 0) {
      continue;
    }
    let oy = u32(ty) / params.stride_h;
    if (oy >= params.h_out) {
      continue;
    }
    let dy_row = (b * params.h_out + oy) * params.w_out;
    for (var kx = 0u; kx < params.k_w; kx++) {
      let tx0 = i32(ix0 + params.pad_left) - i32(kx * params.dilation_w);
      if (tx0 % i32(sw) != 0) {
        continue;
      }
      // Pixel p reads dy column ox0 + p; columns outside [0, w_out) (or pixels past w) contribute 0.
      var dy_at: array<u32, TILE_X>;
      var inside: array<bool, TILE_X>;
      for (var p = 0u; p < TILE_X; p++) {
        let ox = tx0 / i32(sw) + i32(p);
        inside[p] = ox >= 0 && ox < i32(params.w_out) && ix0 + p * sw < params.w;
        dy_at[p] = select(0u, (dy_row + u32(ox)) * c_out, inside[p]);
      }
      let w_at = (ky * params.k_w + kx) * c_in * c_out;
      for (var co = 0u; co < c_out; co++) {
        var wv: array<vec4<f32>, TILE_CI4>;
        for (var j = 0u; j < TILE_CI4; j++) {
          let r = ci_row[j] + vec4<u32>(w_at + co);
          wv[j] = vec4<f32>(weight[r.x], weight[r.y], weight[r.z], weight[r.w]);
        }
        for (var p = 0u; p < TILE_X; p++) {
          let g = vec4<f32>(select(0.0, dy[dy_at[p] + co], inside[p]));
          for (var j = 0u; j < TILE_CI4; j++) {
            acc[p][j] = fma(g, wv[j], acc[p][j]);
          }
        }
      }
    }
  }

  for (var p = 0u; p < TILE_X; p++) {
    let ix = ix0 + p * sw;
    if (ix >= params.w) {
      break;
    }
    let dx_at = (in_row * params.w + ix) * c_in + ci0;
    for (var j = 0u; j < TILE_CI4; j++) {
      for (var i = 0u; i < 4u; i++) {
        if (ci0 + 4u * j + i < c_in) {
          dx[dx_at + 4u * j + i] = acc[p][j][i];
        }
      }
    }
  }
}
