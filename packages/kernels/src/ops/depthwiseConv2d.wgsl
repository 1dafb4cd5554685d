// depthwise_conv2d: y[b, oy, ox, c] = act( fma(acc, scale[c], shift[c]) ),
//   acc = sum_{ky, kx} x[b, iy, ix, c] * weight[ky, kx, c],
//   iy = oy * stride_h - pad_top + ky,  ix = ox * stride_w - pad_left + kx;  taps outside the input read 0.
// The epilogue (scale, shift) is (1, bias[c]) with has_bias = 1: fma(acc, 1, b) rounds once, exactly
// acc + b; (scale_shift[0, c], scale_shift[1, c]) with scale_shift = 1: a frozen batch norm fused into
// the convolution, the same expression as batch_norm_apply, so it gives bit-identical results to
// depthwise followed by batchNormApply; (1, 0) with neither.
//
// Layouts: x NHWC [n, h, w, c]; weight [k_h, k_w, c]; binding 3 holds bias [c] (has_bias = 1) or
// scale_shift [2, c] (scale_shift = 1, row 0 scale, row 1 shift; never both), unread otherwise;
// y NHWC [n, h_out, w_out, c]. Channel multiplier 1: output channel c sees input channel c only.
// activation: 0 none, 1 relu, 2 relu6.
//
// Work split: each invocation computes TILE_W = 4 neighbouring output pixels of one output row
// times 4 neighbouring channels, as four vec4 accumulators. Each weight vec4 loaded is then used
// for 4 FMAs instead of 1. Channels are the fastest-varying invocation index, so neighbouring
// invocations read neighbouring addresses (c is contiguous in NHWC). No workgroup memory: the op
// is memory-bound and on lavapipe barriers cost more than the reuse they buy.
//
// Loads dominate the cost. Lavapipe runs neighbouring invocations as SIMD lanes, and a storage load
// whose address differs per lane becomes a loop over the lanes, one iteration per load instruction.
// Two entry points share the tiling and differ only in how they touch memory:
// - main_vec4 (c % 4 == 0, every MobileNetV2 layer) binds x, weight, bias and y as array<vec4<f32>>:
//   one load instruction per 4 channels instead of 4, and one store instead of a loop of 4. This
//   made the forward 1.4-1.9x faster on the benchmark shapes (table in docs/kernels/depthwiseConv2d.md).
// - main (any c) reads and writes single floats. The last channel group clamps its loads to
//   channel c - 1 and discards those lanes on store, so the tap loop has no per-channel branches.
// The tap loop is written once per entry point (accumulate / accumulate_vec4): WGSL cannot pass the
// binding to read from, and one entry point may not use both views of a binding.
//
// The 4 pixels of a tile read overlapping input columns, so for k_w = 3 with stride_w = 1 (most of
// MobileNetV2's depthwise layers) the override `row_k3` selects a path that loads the 6 input columns
// of a kernel row once into named registers (instead of 12 loads) and takes all taps from them:
// measured ~1.5x faster. They must be plain variables: an indexed private array lands in per-lane
// scratch memory on lavapipe and saves nothing. Larger register tiles measured slower, from spills:
// the same path at stride 2 (9 columns), and two output rows per invocation sharing their input
// rows (fewer loads per output, but 8 accumulators: 0.6-0.9x the speed of one row with vec4 I/O).
// Also measured slower (A/B in one process, fused scale/shift + relu6, lavapipe, load average ~5): at
// k 3x3 stride 2, 2 output rows x 2 pixels per invocation sharing the middle input row (34 loads per
// 4 outputs instead of 45): 0.5-0.7x at 112x112x96 and 56x56x144, with the 9 weights held or reloaded.
// Input columns outside the image are clamped to a valid address and replaced by 0 with a select.
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
  scale_shift: u32,
  activation: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Entry point main: single floats.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>; // or scale_shift [2, c]: see the header
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
// Entry point main_vec4: the same buffers as vec4s of 4 channels (needs c % 4 == 0).
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weight4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y4: array<vec4<f32>>;

const TILE_W = 4u;
const WORKGROUP = 64u;
// true: k_w = 3 and stride_w = 1, each input row held in registers; false: the generic tap loop.
override row_k3: bool = false;

// Where an invocation's tile sits. row = b * h_out + oy; channels c0 .. c0 + 3; ix_first is the
// input column of tap kx = 0 for output pixel ox0 (pixels past w_out compute from clamped or
// zero-padded columns and are discarded on store).
struct Tile {
  inside: bool,
  b: u32,
  oy: u32,
  row: u32,
  ox0: u32,
  c0: u32,
  ix_first: i32,
}

// Four output pixels of one row, 4 channels each.
struct Quad {
  p0: vec4<f32>,
  p1: vec4<f32>,
  p2: vec4<f32>,
  p3: vec4<f32>,
}

fn tile_of(gid: vec3<u32>, groups: vec3<u32>) -> Tile {
  let channel_groups = (params.c + 3u) / 4u;
  let x_tiles = (params.w_out + TILE_W - 1u) / TILE_W;
  let index = gid.x + gid.y * groups.x * WORKGROUP;
  let tile = index / channel_groups;
  let row = tile / x_tiles;
  let ox0 = (tile % x_tiles) * TILE_W;
  return Tile(row < params.n * params.h_out, row / params.h_out, row % params.h_out, row, ox0,
              (index % channel_groups) * 4u, i32(ox0 * params.stride_w) - i32(params.pad_left));
}

// Input row iy of the tile's image: where it starts, or false when it lies in the padding.
fn input_row(t: Tile, ky: u32) -> i32 {
  return i32(t.oy * params.stride_h + ky) - i32(params.pad_top);
}
fn row_inside(iy: i32) -> bool {
  return iy >= 0 && iy < i32(params.h);
}
// Column ix clamped into the image, and whether it was inside.
fn column(ix: i32) -> u32 {
  return u32(clamp(ix, 0, i32(params.w) - 1));
}
fn column_inside(ix: i32) -> bool {
  return ix >= 0 && ix < i32(params.w);
}

// acc + one kernel row applied to 4 output pixels whose windows start at r0, r1, r2, r3.
fn taps_k3(acc: Quad, r0: vec4<f32>, r1: vec4<f32>, r2: vec4<f32>, r3: vec4<f32>, r4: vec4<f32>, r5: vec4<f32>,
           w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>) -> Quad {
  return Quad(fma(r0, w0, fma(r1, w1, fma(r2, w2, acc.p0))),
              fma(r1, w0, fma(r2, w1, fma(r3, w2, acc.p1))),
              fma(r2, w0, fma(r3, w1, fma(r4, w2, acc.p2))),
              fma(r3, w0, fma(r4, w1, fma(r5, w2, acc.p3))));
}

fn activate(v: vec4<f32>) -> vec4<f32> {
  switch params.activation {
    case 1u: { return max(v, vec4<f32>(0.0)); }
    case 2u: { return clamp(v, vec4<f32>(0.0), vec4<f32>(6.0)); }
    default: { return v; }
  }
}

fn pixel(q: Quad, j: u32) -> vec4<f32> {
  switch j {
    case 0u: { return q.p0; }
    case 1u: { return q.p1; }
    case 2u: { return q.p2; }
    default: { return q.p3; }
  }
}

// ---- main: single floats, any c ----

// Input pixel (row_base + ix) channels ch, or 0 when column ix lies in the padding.
fn load_x(row_base: u32, ix: i32, ch: vec4<u32>) -> vec4<f32> {
  let base = (row_base + column(ix)) * params.c;
  let xv = vec4<f32>(x[base + ch.x], x[base + ch.y], x[base + ch.z], x[base + ch.w]);
  return select(vec4<f32>(0.0), xv, column_inside(ix));
}

fn load_w(tap: u32, ch: vec4<u32>) -> vec4<f32> {
  let base = tap * params.c;
  return vec4<f32>(weight[base + ch.x], weight[base + ch.y], weight[base + ch.z], weight[base + ch.w]);
}

fn accumulate(t: Tile, ch: vec4<u32>) -> Quad {
  let sw = i32(params.stride_w);
  // Four named accumulators, not an array indexed in a loop: lavapipe would keep that in scratch memory.
  var acc = Quad(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  for (var ky = 0u; ky < params.k_h; ky++) {
    let iy = input_row(t, ky);
    if (!row_inside(iy)) {
      continue;
    }
    let row_base = (t.b * params.h + u32(iy)) * params.w;
    let ix = t.ix_first;
    if (row_k3) {
      let r0 = load_x(row_base, ix, ch);
      let r1 = load_x(row_base, ix + 1, ch);
      let r2 = load_x(row_base, ix + 2, ch);
      let r3 = load_x(row_base, ix + 3, ch);
      let r4 = load_x(row_base, ix + 4, ch);
      let r5 = load_x(row_base, ix + 5, ch);
      let w0 = load_w(ky * 3u, ch);
      let w1 = load_w(ky * 3u + 1u, ch);
      let w2 = load_w(ky * 3u + 2u, ch);
      acc = taps_k3(acc, r0, r1, r2, r3, r4, r5, w0, w1, w2);
    } else {
      for (var kx = 0u; kx < params.k_w; kx++) {
        let wv = load_w(ky * params.k_w + kx, ch);
        let ixk = ix + i32(kx);
        let x0 = load_x(row_base, ixk, ch);
        let x1 = load_x(row_base, ixk + sw, ch);
        let x2 = load_x(row_base, ixk + 2 * sw, ch);
        let x3 = load_x(row_base, ixk + 3 * sw, ch);
        acc = Quad(fma(x0, wv, acc.p0), fma(x1, wv, acc.p1), fma(x2, wv, acc.p2), fma(x3, wv, acc.p3));
      }
    }
  }
  return acc;
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let t = tile_of(gid, groups);
  if (!t.inside) {
    return;
  }
  let c = params.c;
  let last_c = c - 1u;
  let ch = vec4<u32>(min(t.c0, last_c), min(t.c0 + 1u, last_c), min(t.c0 + 2u, last_c), min(t.c0 + 3u, last_c));
  let acc = accumulate(t, ch);
  var scale = vec4<f32>(1.0);
  var shift = vec4<f32>(0.0);
  if (params.scale_shift == 1u) {
    scale = vec4<f32>(bias[ch.x], bias[ch.y], bias[ch.z], bias[ch.w]);
    shift = vec4<f32>(bias[c + ch.x], bias[c + ch.y], bias[c + ch.z], bias[c + ch.w]);
  } else if (params.has_bias == 1u) {
    shift = vec4<f32>(bias[ch.x], bias[ch.y], bias[ch.z], bias[ch.w]);
  }
  let lanes = min(c - t.c0, 4u);
  for (var j = 0u; j < TILE_W; j++) {
    let ox = t.ox0 + j;
    if (ox >= params.w_out) {
      break;
    }
    let value = activate(fma(pixel(acc, j), scale, shift));
    let out_base = (t.row * params.w_out + ox) * c + t.c0;
    for (var k = 0u; k < lanes; k++) {
      y[out_base + k] = value[k];
    }
  }
}

// ---- main_vec4: vec4s of 4 channels, c % 4 == 0 ----

// Input pixel (row_base + ix), channel group g, or 0 when column ix lies in the padding.
fn load_x4(row_base: u32, ix: i32, g: u32) -> vec4<f32> {
  let xv = x4[(row_base + column(ix)) * (params.c / 4u) + g];
  return select(vec4<f32>(0.0), xv, column_inside(ix));
}

fn load_w4(tap: u32, g: u32) -> vec4<f32> {
  return weight4[tap * (params.c / 4u) + g];
}

// accumulate() with vec4 loads; g is the channel group c0 / 4.
fn accumulate_vec4(t: Tile, g: u32) -> Quad {
  let sw = i32(params.stride_w);
  var acc = Quad(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  for (var ky = 0u; ky < params.k_h; ky++) {
    let iy = input_row(t, ky);
    if (!row_inside(iy)) {
      continue;
    }
    let row_base = (t.b * params.h + u32(iy)) * params.w;
    let ix = t.ix_first;
    if (row_k3) {
      let r0 = load_x4(row_base, ix, g);
      let r1 = load_x4(row_base, ix + 1, g);
      let r2 = load_x4(row_base, ix + 2, g);
      let r3 = load_x4(row_base, ix + 3, g);
      let r4 = load_x4(row_base, ix + 4, g);
      let r5 = load_x4(row_base, ix + 5, g);
      let w0 = load_w4(ky * 3u, g);
      let w1 = load_w4(ky * 3u + 1u, g);
      let w2 = load_w4(ky * 3u + 2u, g);
      acc = taps_k3(acc, r0, r1, r2, r3, r4, r5, w0, w1, w2);
    } else {
      for (var kx = 0u; kx < params.k_w; kx++) {
        let wv = load_w4(ky * params.k_w + kx, g);
        let ixk = ix + i32(kx);
        let x0 = load_x4(row_base, ixk, g);
        let x1 = load_x4(row_base, ixk + sw, g);
        let x2 = load_x4(row_base, ixk + 2 * sw, g);
        let x3 = load_x4(row_base, ixk + 3 * sw, g);
        acc = Quad(fma(x0, wv, acc.p0), fma(x1, wv, acc.p1), fma(x2, wv, acc.p2), fma(x3, wv, acc.p3));
      }
    }
  }
  return acc;
}

@compute @workgroup_size(64, 1, 1)
fn main_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let t = tile_of(gid, groups);
  if (!t.inside) {
    return;
  }
  let g = t.c0 / 4u;
  let acc = accumulate_vec4(t, g);
  let groups_per_pixel = params.c / 4u;
  var scale = vec4<f32>(1.0);
  var shift = vec4<f32>(0.0);
  if (params.scale_shift == 1u) {
    scale = bias4[g];
    shift = bias4[groups_per_pixel + g];
  } else if (params.has_bias == 1u) {
    shift = bias4[g];
  }
  for (var j = 0u; j < TILE_W; j++) {
    let ox = t.ox0 + j;
    if (ox >= params.w_out) {
      break;
    }
    y4[(t.row * params.w_out + ox) * groups_per_pixel + g] = activate(fma(pixel(acc, j), scale, shift));
  }
}
