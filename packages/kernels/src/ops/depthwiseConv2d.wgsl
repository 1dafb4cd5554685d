// depthwise_conv2d: y[b, oy, ox, c] = act( bias[c] + sum_{ky, kx} x[b, iy, ix, c] * weight[ky, kx, c] )
//   iy = oy * stride_h - pad_top + ky,  ix = ox * stride_w - pad_left + kx;  taps outside the input read 0.
//
// Layouts: x NHWC [n, h, w, c]; weight [k_h, k_w, c]; bias [c] (read only when has_bias = 1);
// y NHWC [n, h_out, w_out, c]. Channel multiplier 1: output channel c sees input channel c only.
// activation: 0 none, 1 relu, 2 relu6.
//
// Work split: each invocation computes TILE_W = 4 neighbouring output pixels of one output row
// times 4 neighbouring channels, as four vec4 accumulators. Each weight vec4 loaded is then used
// for 4 FMAs instead of 1. Channels are the fastest-varying invocation index, so neighbouring
// invocations read neighbouring addresses (c is contiguous in NHWC). No workgroup memory: the op
// is memory-bound and on lavapipe barriers cost more than the reuse they buy.
// Input loads dominate the cost (lavapipe gathers every lane's element separately). The 4 pixels
// of a tile read overlapping input columns, so for k_w = 3 with stride_w = 1 (most of MobileNetV2's
// depthwise layers) the override `row_k3` selects a path that loads the 6 input columns of a kernel
// row once into named registers (instead of 12 loads) and takes all taps from them: measured ~1.5x
// faster. They must be plain variables: an indexed private array lands in per-lane scratch memory
// on lavapipe and saves nothing. The same path for stride 2 (9 columns) measured ~1.3x slower than
// the generic loop (register spills), so stride 2 and other kernel sizes take the generic tap loop.
// When c is not a multiple of 4 the last channel group clamps its loads to channel c - 1 and
// discards those lanes on store, so the tap loop has no per-channel branches. Input columns outside
// the image are clamped to a valid address and replaced by 0 with a select.
// Invocations are numbered linearly (a 2D dispatch when there are more than 65535 workgroups).

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
  has_bias: u32,
  activation: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

const TILE_W = 4u;
const WORKGROUP = 64u;
// true: k_w = 3 and stride_w = 1, each input row held in registers; false: the generic tap loop.
override row_k3: bool = false;

fn activate(v: vec4<f32>) -> vec4<f32> {
  switch params.activation {
    case 1u: { return max(v, vec4<f32>(0.0)); }
    case 2u: { return clamp(v, vec4<f32>(0.0), vec4<f32>(6.0)); }
    default: { return v; }
  }
}

// Input pixel (row_base + ix) channels ch, or 0 when column ix lies in the padding.
fn load_x(row_base: u32, ix: i32, ch: vec4<u32>) -> vec4<f32> {
  let w_in = i32(params.w);
  let base = (row_base + u32(clamp(ix, 0, w_in - 1))) * params.c;
  let xv = vec4<f32>(x[base + ch.x], x[base + ch.y], x[base + ch.z], x[base + ch.w]);
  return select(vec4<f32>(0.0), xv, ix >= 0 && ix < w_in);
}

fn load_w(tap: u32, ch: vec4<u32>) -> vec4<f32> {
  let base = tap * params.c;
  return vec4<f32>(weight[base + ch.x], weight[base + ch.y], weight[base + ch.z], weight[base + ch.w]);
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let c = params.c;
  let channel_groups = (c + 3u) / 4u;
  let x_tiles = (params.w_out + TILE_W - 1u) / TILE_W;
  let index = gid.x + gid.y * groups.x * WORKGROUP;
  let c0 = (index % channel_groups) * 4u;
  let tile = index / channel_groups;
  let ox0 = (tile % x_tiles) * TILE_W;
  let row = tile / x_tiles; // b * h_out + oy
  if (row >= params.n * params.h_out) {
    return;
  }
  let b = row / params.h_out;
  let oy = row % params.h_out;

  let last_c = c - 1u;
  let ch = vec4<u32>(min(c0, last_c), min(c0 + 1u, last_c), min(c0 + 2u, last_c), min(c0 + 3u, last_c));

  // Input column of tap kx = 0 for each output pixel of the tile. Pixels past w_out compute from
  // clamped or zero-padded columns and are discarded on store.
  let ix_first = i32(ox0 * params.stride_w) - i32(params.pad_left);
  let sw = i32(params.stride_w);

  // Four named accumulators, not an array indexed in a loop: lavapipe would keep that in scratch memory.
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var ky = 0u; ky < params.k_h; ky++) {
    let iy = i32(oy * params.stride_h + ky) - i32(params.pad_top);
    if (iy < 0 || iy >= i32(params.h)) {
      continue;
    }
    let row_base = (b * params.h + u32(iy)) * params.w;
    if (row_k3) {
      let r0 = load_x(row_base, ix_first, ch);
      let r1 = load_x(row_base, ix_first + 1, ch);
      let r2 = load_x(row_base, ix_first + 2, ch);
      let r3 = load_x(row_base, ix_first + 3, ch);
      let r4 = load_x(row_base, ix_first + 4, ch);
      let r5 = load_x(row_base, ix_first + 5, ch);
      let w0 = load_w(ky * 3u, ch);
      let w1 = load_w(ky * 3u + 1u, ch);
      let w2 = load_w(ky * 3u + 2u, ch);
      acc0 = fma(r0, w0, fma(r1, w1, fma(r2, w2, acc0)));
      acc1 = fma(r1, w0, fma(r2, w1, fma(r3, w2, acc1)));
      acc2 = fma(r2, w0, fma(r3, w1, fma(r4, w2, acc2)));
      acc3 = fma(r3, w0, fma(r4, w1, fma(r5, w2, acc3)));
    } else {
      for (var kx = 0u; kx < params.k_w; kx++) {
        let wv = load_w(ky * params.k_w + kx, ch);
        let ix = ix_first + i32(kx);
        acc0 = fma(load_x(row_base, ix, ch), wv, acc0);
        acc1 = fma(load_x(row_base, ix + sw, ch), wv, acc1);
        acc2 = fma(load_x(row_base, ix + 2 * sw, ch), wv, acc2);
        acc3 = fma(load_x(row_base, ix + 3 * sw, ch), wv, acc3);
      }
    }
  }

  let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  var bias_v = vec4<f32>(0.0);
  if (params.has_bias == 1u) {
    bias_v = vec4<f32>(bias[ch.x], bias[ch.y], bias[ch.z], bias[ch.w]);
  }
  let lanes = min(c - c0, 4u);
  for (var j = 0u; j < TILE_W; j++) {
    let ox = ox0 + j;
    if (ox >= params.w_out) {
      break;
    }
    let value = activate(acc[j] + bias_v);
    let out_base = (row * params.w_out + ox) * c + c0;
    for (var k = 0u; k < lanes; k++) {
      y[out_base + k] = value[k];
    }
  }
}
