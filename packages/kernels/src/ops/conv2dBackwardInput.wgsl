// conv2d backward w.r.t. the input (a transposed convolution of dy):
//   dx[b, iy, ix, ci] = sum_{ky, kx, co} dy[b, oy, ox, co] * weight[ky, kx, ci, co]
//   over the (ky, kx) for which oy = (iy + pad_top - ky * dilation_h) / stride_h and
//   ox = (ix + pad_left - kx * dilation_w) / stride_w are whole numbers inside [0, h_out) x [0, w_out).
//
// Layouts: dy NHWC [n, h_out, w_out, c_out]; weight HWIO [k_h, k_w, c_in, c_out]; dx NHWC [n, h, w, c_in].
//
// Work split: invocation (gid.x, gid.y, gid.z) computes TILE_CI = 4 input channels (one vec4) for
// TILE_X input pixels of one row (b, iy) = gid.z. The pixels are stride_w apart, ix = base + p * stride_w,
// so they share the remainder (ix + pad_left - kx * dilation_w) mod stride_w: for every kx either all
// of them receive a contribution (from TILE_X neighbouring dy pixels) or none does, and the test is
// uniform. gid.y enumerates, per span of stride_w * TILE_X columns, the stride_w phases of that span.
// Per (ky, kx, co): 4 weight loads (HWIO rows c_out apart) + TILE_X dy loads for TILE_X vec4 FMAs.
// No workgroup memory, for the same reason as conv2d.wgsl (lavapipe barriers are expensive).

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

const TILE_CI = 4u;
const TILE_X = 4u;

@compute @workgroup_size(16, 4, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let ci0 = gid.x * TILE_CI;
  let sw = params.stride_w;
  let span = gid.y / sw;
  let phase = gid.y % sw;
  let ix0 = span * sw * TILE_X + phase;
  if (ci0 >= params.c_in || ix0 >= params.w || gid.z >= params.n * params.h) {
    return;
  }
  let b = gid.z / params.h;
  let iy = gid.z % params.h;
  let c_in = params.c_in;
  let c_out = params.c_out;

  // Offsets of the 4 input channels' weight rows, clamped so loads stay in bounds.
  let ci_row = vec4<u32>(
    min(ci0, c_in - 1u) * c_out,
    min(ci0 + 1u, c_in - 1u) * c_out,
    min(ci0 + 2u, c_in - 1u) * c_out,
    min(ci0 + 3u, c_in - 1u) * c_out,
  );

  var acc: array<vec4<f32>, TILE_X>;
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
        let wv = vec4<f32>(weight[w_at + ci_row.x + co], weight[w_at + ci_row.y + co], weight[w_at + ci_row.z + co], weight[w_at + ci_row.w + co]);
        for (var p = 0u; p < TILE_X; p++) {
          let g = select(0.0, dy[dy_at[p] + co], inside[p]);
          acc[p] = fma(vec4<f32>(g), wv, acc[p]);
        }
      }
    }
  }

  for (var p = 0u; p < TILE_X; p++) {
    let ix = ix0 + p * sw;
    if (ix >= params.w) {
      break;
    }
    let dx_at = (gid.z * params.w + ix) * c_in;
    for (var j = 0u; j < TILE_CI; j++) {
      if (ci0 + j < c_in) {
        dx[dx_at + ci0 + j] = acc[p][j];
      }
    }
  }
}
