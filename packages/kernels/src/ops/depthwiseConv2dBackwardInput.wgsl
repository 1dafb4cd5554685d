// depthwise_conv2d_backward_input: dx[b, iy, ix, c] = sum_{ky, kx} dy[b, oy, ox, c] * weight[ky, kx, c]
//   over the taps that read (iy, ix) in the forward: oy * stride_h = iy + pad_top - ky and
//   ox * stride_w = ix + pad_left - kx, with oy in [0, h_out) and ox in [0, w_out).
//
// Layouts: dy NHWC [n, h_out, w_out, c]; weight [k_h, k_w, c]; dx NHWC [n, h, w, c].
//
// Work split: each invocation computes TILE_W = 4 dx pixels of one row times 4 neighbouring channels
// (four vec4 accumulators), channels fastest across invocations, no workgroup memory. Each invocation
// gathers from dy instead of scattering into dx, so no two invocations write the same element.
// The 4 pixels of an invocation are not neighbours but every stride_w-th pixel of one residue class,
// ix = residue + (tile * TILE_W + j) * stride_w: then the taps that reach them are the same for all 4
// (kx = kx_first, kx_first + stride_w, ...), they read 4 consecutive dy pixels, and stepping kx by
// stride_w steps ox back by one. So the tap loops hold no integer division, which lavapipe
// would run one lane at a time (x86 has no vector integer divide); with stride 1 this is the plain
// neighbouring-pixel tile. The last channel group clamps to channel c - 1 and discards on store.

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
  let sw = params.stride_w;
  let sh = params.stride_h;
  let channel_groups = (c + 3u) / 4u;
  let tiles = ((params.w + sw - 1u) / sw + TILE_W - 1u) / TILE_W; // tiles per residue class
  let index = gid.x + gid.y * groups.x * WORKGROUP;
  let c0 = (index % channel_groups) * 4u;
  var rest = index / channel_groups;
  let tile = rest % tiles;
  rest = rest / tiles;
  let residue = rest % sw;
  let row = rest / sw; // b * h + iy
  if (row >= params.n * params.h) {
    return;
  }
  let b = row / params.h;
  let iy = row % params.h;

  let last_c = c - 1u;
  let ch = vec4<u32>(min(c0, last_c), min(c0 + 1u, last_c), min(c0 + 2u, last_c), min(c0 + 3u, last_c));
  let w_out = i32(params.w_out);

  // Taps reaching row iy: ky = ky_first + m * stride_h, from output row oy_first - m.
  let ky_first = (iy + params.pad_top) % sh;
  let oy_first = i32((iy + params.pad_top - ky_first) / sh);
  // Taps reaching the tile's columns: kx = kx_first + m * stride_w, from output columns ox_first - m + j.
  let kx_first = (residue + params.pad_left) % sw;
  let ox_first = i32((residue + params.pad_left - kx_first) / sw + tile * TILE_W);

  var acc: array<vec4<f32>, 4>;
  var oy = oy_first;
  for (var ky = ky_first; ky < params.k_h; ky += sh) {
    if (oy >= 0 && oy < i32(params.h_out)) {
      let row_base = (b * params.h_out + u32(oy)) * params.w_out;
      var ox0 = ox_first;
      for (var kx = kx_first; kx < params.k_w; kx += sw) {
        let w_base = (ky * params.k_w + kx) * c;
        let wv = vec4<f32>(weight[w_base + ch.x], weight[w_base + ch.y], weight[w_base + ch.z], weight[w_base + ch.w]);
        for (var j = 0u; j < TILE_W; j++) {
          let ox = ox0 + i32(j);
          let base = (row_base + u32(clamp(ox, 0, w_out - 1))) * c;
          let gv = vec4<f32>(dy[base + ch.x], dy[base + ch.y], dy[base + ch.z], dy[base + ch.w]);
          acc[j] = fma(select(vec4<f32>(0.0), gv, ox >= 0 && ox < w_out), wv, acc[j]);
        }
        ox0 -= 1;
      }
    }
    oy -= 1;
  }

  let lanes = min(c - c0, 4u);
  for (var j = 0u; j < TILE_W; j++) {
    let ix = residue + (tile * TILE_W + j) * sw;
    if (ix >= params.w) {
      break;
    }
    let out_base = (row * params.w + ix) * c + c0;
    for (var k = 0u; k < lanes; k++) {
      dx[out_base + k] = acc[j][k];
    }
  }
}
