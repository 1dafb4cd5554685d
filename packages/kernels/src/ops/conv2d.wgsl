// conv2d forward (groups = 1):
//   y[b, oy, ox, co] = act( bias[co] + sum_{ky, kx, ci} x[b, iy, ix, ci] * weight[ky, kx, ci, co] )
//   iy = oy * stride_h - pad_top + ky * dilation_h,  ix = ox * stride_w - pad_left + kx * dilation_w,
//   x read as 0 outside [0, h) x [0, w) (explicit / TF-'same' padding is resolved by the launcher).
//
// Layouts: x NHWC [n, h, w, c_in]; weight HWIO [k_h, k_w, c_in, c_out]; bias [c_out] (read only when
// has_bias = 1); y NHWC [n, h_out, w_out, c_out]. activation: 0 none, 1 relu, 2 relu6.
//
// Work split: invocation computes TILE_CO = 8 output channels (two vec4s) for TILE_X = 8 neighbouring
// output pixels of one output row. A workgroup of 64 is co_lanes channel blocks x (64 / co_lanes)
// pixel blocks, channel blocks fastest: lavapipe runs 8 neighbouring invocations as one SIMD vector,
// and when those share their pixels every input load of the vector hits one cache line (the weight
// loads then cover 8 neighbouring blocks, 4 lines). Measured against lanes along pixels: 9-14 vs
// 8-11 GFLOP/s. co_lanes (an override: it sets the workgroup shape) is the largest power of two
// <= min(8, channel blocks), so layers with few output channels do not leave lanes idle. Pixel blocks
// enumerate (b, oy, 8-pixel block) row-major. Per (ky, kx, ci) it loads 8 weights (contiguous in
// HWIO) and 8 input values and does 16 vec4 FMAs: 64 multiply-adds for 16 loads. On lavapipe every
// storage load is a per-lane gather and costs far more than an FMA, so the block is as large as the
// registers allow: measured (CPU time, 3x3 56x56x64->64 b8, pixels x channels) 4x4 ~8, 8x4 ~10,
// 8x8 ~13-15, 16x4 ~11 GFLOP/s-equivalent; 8x12 spilled and fell to ~7. Weights and inputs read as vec4 arrays (c % 4 == 0) measured no faster
// than scalar loads, so one scalar path serves every channel count. No workgroup memory: on CPU
// drivers barriers cost more than the reuse saves. A whole kernel row outside the image is skipped
// (uniform across the invocation); per-pixel column edges use a select, so the inner ci loop has no
// branches. Channels past c_out are clamped to valid addresses and their results discarded.

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
  activation: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

const TILE_CO4 = 2u; // output channels in vec4s: TILE_CO = 8
const TILE_CO = 4u * TILE_CO4;
const TILE_X = 8u;
const GROUP_SIZE = 64u;
override co_lanes: u32 = 8u;

fn activate(v: vec4<f32>) -> vec4<f32> {
  switch params.activation {
    case 1u: { return max(v, vec4<f32>(0.0)); }
    case 2u: { return clamp(v, vec4<f32>(0.0), vec4<f32>(6.0)); }
    default: { return v; }
  }
}

@compute @workgroup_size(co_lanes, GROUP_SIZE / co_lanes, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let pixel_block = wid.y * (GROUP_SIZE / co_lanes) + lid.y;
  let x_blocks = (params.w_out + TILE_X - 1u) / TILE_X;
  let out_row = pixel_block / x_blocks; // b * h_out + oy
  let ox0 = (pixel_block % x_blocks) * TILE_X;
  let co0 = (wid.x * co_lanes + lid.x) * TILE_CO;
  if (co0 >= params.c_out || out_row >= params.n * params.h_out) {
    return;
  }
  let b = out_row / params.h_out;
  let oy = out_row % params.h_out;
  let c_in = params.c_in;
  let c_out = params.c_out;

  // Columns of the output channels, clamped so the weight loads stay in bounds.
  var col: array<vec4<u32>, TILE_CO4>;
  for (var j = 0u; j < TILE_CO4; j++) {
    let c = co0 + 4u * j;
    col[j] = vec4<u32>(min(c, c_out - 1u), min(c + 1u, c_out - 1u), min(c + 2u, c_out - 1u), min(c + 3u, c_out - 1u));
  }

  var acc: array<array<vec4<f32>, TILE_CO4>, TILE_X>;
  for (var ky = 0u; ky < params.k_h; ky++) {
    let iy = i32(oy * params.stride_h + ky * params.dilation_h) - i32(params.pad_top);
    if (iy < 0 || iy >= i32(params.h)) {
      continue;
    }
    let row = (b * params.h + u32(iy)) * params.w;
    for (var kx = 0u; kx < params.k_w; kx++) {
      // Start of pixel p's channel vector, and whether that pixel is inside the image.
      var x_at: array<u32, TILE_X>;
      var inside: array<bool, TILE_X>;
      for (var p = 0u; p < TILE_X; p++) {
        let ix = i32((ox0 + p) * params.stride_w + kx * params.dilation_w) - i32(params.pad_left);
        inside[p] = ix >= 0 && ix < i32(params.w);
        x_at[p] = select(0u, (row + u32(ix)) * c_in, inside[p]);
      }
      var w_at = (ky * params.k_w + kx) * c_in * c_out;
      for (var ci = 0u; ci < c_in; ci++) {
        var wv: array<vec4<f32>, TILE_CO4>;
        for (var j = 0u; j < TILE_CO4; j++) {
          wv[j] = vec4<f32>(weight[w_at + col[j].x], weight[w_at + col[j].y], weight[w_at + col[j].z], weight[w_at + col[j].w]);
        }
        for (var p = 0u; p < TILE_X; p++) {
          let xv = vec4<f32>(select(0.0, x[x_at[p] + ci], inside[p]));
          for (var j = 0u; j < TILE_CO4; j++) {
            acc[p][j] = fma(xv, wv[j], acc[p][j]);
          }
        }
        w_at += c_out;
      }
    }
  }

  var bias_v: array<vec4<f32>, TILE_CO4>;
  if (params.has_bias == 1u) {
    for (var j = 0u; j < TILE_CO4; j++) {
      bias_v[j] = vec4<f32>(bias[col[j].x], bias[col[j].y], bias[col[j].z], bias[col[j].w]);
    }
  }
  for (var p = 0u; p < TILE_X; p++) {
    let ox = ox0 + p;
    if (ox >= params.w_out) {
      break;
    }
    let y_at = (out_row * params.w_out + ox) * c_out + co0;
    for (var j = 0u; j < TILE_CO4; j++) {
      let v = activate(acc[p][j] + bias_v[j]);
      for (var i = 0u; i < 4u; i++) {
        if (co0 + 4u * j + i < c_out) {
          y[y_at + 4u * j + i] = v[i];
        }
      }
    }
  }
}
