// depthwise_conv2d_backward_input: dx[b, iy, ix, c] = sum_{ky, kx} dy[b, oy, ox, c] * weight[ky, kx, c]
//   over the taps that read (iy, ix) in the forward: oy * stride_h = iy + pad_top - ky and
//   ox * stride_w = ix + pad_left - kx, with oy in [0, h_out) and ox in [0, w_out).
//
// Layouts: dy NHWC [n, h_out, w_out, c]; weight [k_h, k_w, c]; dx NHWC [n, h, w, c].
//
// Work split: as the forward, with the roles of input and output swapped: each invocation computes
// TILE_W = 4 neighbouring dx pixels of one row times 4 neighbouring channels (four vec4
// accumulators), channels fastest across invocations, no workgroup memory. Each invocation gathers
// from dy instead of scattering into dx, so no two invocations write the same element and no
// atomics are needed. With stride > 1 a tap contributes only where the division is exact; the
// test is a select, so lanes do not diverge. The last channel group clamps to channel c - 1 and
// discards those lanes on store.

struct Params {
  n: u32,
  h: u32,
  w: u32,
  c: u32,
  h_out: u32,
  w_out: u32,
  k_h: u32,
  k_w: u32,
  stride_h: u32,
  stride_w: u32,
  pad_top: u32,
  pad_left: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

const TILE_W = 4u;
const WORKGROUP = 64u;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let c = params.c;
  let channel_groups = (c + 3u) / 4u;
  let x_tiles = (params.w + TILE_W - 1u) / TILE_W;
  let index = gid.x + gid.y * groups.x * WORKGROUP;
  let c0 = (index % channel_groups) * 4u;
  let tile = index / channel_groups;
  let ix0 = (tile % x_tiles) * TILE_W;
  let row = tile / x_tiles; // b * h + iy
  if (row >= params.n * params.h) {
    return;
  }
  let b = row / params.h;
  let iy = row % params.h;

  let last_c = c - 1u;
  let ch = vec4<u32>(min(c0, last_c), min(c0 + 1u, last_c), min(c0 + 2u, last_c), min(c0 + 3u, last_c));
  let stride_w = i32(params.stride_w);
  let w_out = i32(params.w_out);

  // stride_w * ox for tap kx = 0, for each dx pixel of the tile (pixels past w are clamped, then discarded).
  var ox_scaled0: array<i32, 4>;
  for (var j = 0u; j < TILE_W; j++) {
    ox_scaled0[j] = i32(min(ix0 + j, params.w - 1u) + params.pad_left);
  }

  var acc: array<vec4<f32>, 4>;
  for (var ky = 0u; ky < params.k_h; ky++) {
    let oy_scaled = i32(iy + params.pad_top) - i32(ky);
    if (oy_scaled < 0 || oy_scaled % i32(params.stride_h) != 0) {
      continue;
    }
    let oy = u32(oy_scaled) / params.stride_h;
    if (oy >= params.h_out) {
      continue;
    }
    let row_base = (b * params.h_out + oy) * params.w_out;
    for (var kx = 0u; kx < params.k_w; kx++) {
      let w_base = (ky * params.k_w + kx) * c;
      let wv = vec4<f32>(weight[w_base + ch.x], weight[w_base + ch.y], weight[w_base + ch.z], weight[w_base + ch.w]);
      for (var j = 0u; j < TILE_W; j++) {
        let ox_scaled = ox_scaled0[j] - i32(kx);
        let ox = max(ox_scaled, 0) / stride_w;
        let hit = ox_scaled >= 0 && ox * stride_w >= ox_scaled && ox < w_out;
        let base = (row_base + u32(min(ox, w_out - 1))) * c;
        let gv = vec4<f32>(dy[base + ch.x], dy[base + ch.y], dy[base + ch.z], dy[base + ch.w]);
        acc[j] = fma(select(vec4<f32>(0.0), gv, hit), wv, acc[j]);
      }
    }
  }

  let lanes = min(c - c0, 4u);
  for (var j = 0u; j < TILE_W; j++) {
    let ix = ix0 + j;
    if (ix >= params.w) {
      break;
    }
    let out_base = (row * params.w + ix) * c + c0;
    for (var k = 0u; k < lanes; k++) {
      dx[out_base + k] = acc[j][k];
    }
  }
}
