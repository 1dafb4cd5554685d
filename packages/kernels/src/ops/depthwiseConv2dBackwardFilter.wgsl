// depthwise_conv2d_backward_filter: partial[chunk, ky, kx, c] = sum over output rows r of the chunk, and all ox, of
//   dy[b, oy, ox, c] * x[b, oy * stride_h - pad_top + ky, ox * stride_w - pad_left + kx, c]     (r = b * h_out + oy)
// The launcher sums the chunks with sumRows to get dweight[ky, kx, c].
//
// Layouts: x NHWC [n, h, w, c]; dy NHWC [n, h_out, w_out, c]; partial [chunks, k_h, k_w, c].
//
// Work split: dweight has only k_h * k_w * c elements but each is a sum over n * h_out * w_out
// products, so the sum is split into chunks of rows_per_chunk output rows (chosen by the launcher
// so that there are enough invocations to fill the device), and each invocation accumulates one tap
// times 4 neighbouring channels over one chunk in a vec4 register. Channels are the fastest-varying
// invocation index so neighbouring invocations read neighbouring addresses; no workgroup memory.
// The range of ox whose tap lands inside the input is computed once, so the inner loop has no
// bounds checks. The last channel group clamps to channel c - 1 and discards those lanes on store.

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
  rows_per_chunk: u32,
  chunks: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

const WORKGROUP = 64u;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let c = params.c;
  let channel_groups = (c + 3u) / 4u;
  let taps = params.k_h * params.k_w;
  let index = gid.x + gid.y * groups.x * WORKGROUP;
  let c0 = (index % channel_groups) * 4u;
  let rest = index / channel_groups;
  let tap = rest % taps;
  let chunk = rest / taps;
  if (chunk >= params.chunks) {
    return;
  }
  let ky = tap / params.k_w;
  let kx = tap % params.k_w;

  let last_c = c - 1u;
  let ch = vec4<u32>(min(c0, last_c), min(c0 + 1u, last_c), min(c0 + 2u, last_c), min(c0 + 3u, last_c));

  // ix = ox * stride_w + kx - pad_left lies in [0, w) exactly for ox in [ox_begin, ox_end).
  let sw = params.stride_w;
  var ox_begin = 0u;
  if (params.pad_left > kx) {
    ox_begin = (params.pad_left - kx + sw - 1u) / sw;
  }
  var ox_end = 0u;
  if (params.w + params.pad_left > kx) {
    ox_end = min((params.w + params.pad_left - kx - 1u) / sw + 1u, params.w_out);
  }
  let x_step = sw * c;

  let rows = params.n * params.h_out;
  let first = chunk * params.rows_per_chunk;
  let last = min(first + params.rows_per_chunk, rows);
  // (b, oy) of row r advance incrementally: a division per row would run lane by lane on lavapipe.
  var b = first / params.h_out;
  var oy = first % params.h_out;
  var acc = vec4<f32>(0.0);
  for (var r = first; r < last; r++) {
    let iy = i32(oy * params.stride_h + ky) - i32(params.pad_top);
    if (iy >= 0 && iy < i32(params.h)) {
      var dy_at = (r * params.w_out + ox_begin) * c;
      var x_at = ((b * params.h + u32(iy)) * params.w + ox_begin * sw + kx - params.pad_left) * c;
      for (var ox = ox_begin; ox < ox_end; ox++) {
        let gv = vec4<f32>(dy[dy_at + ch.x], dy[dy_at + ch.y], dy[dy_at + ch.z], dy[dy_at + ch.w]);
        let xv = vec4<f32>(x[x_at + ch.x], x[x_at + ch.y], x[x_at + ch.z], x[x_at + ch.w]);
        acc = fma(gv, xv, acc);
        dy_at += c;
        x_at += x_step;
      }
    }
    oy += 1u;
    if (oy == params.h_out) {
      oy = 0u;
      b += 1u;
    }
  }

  let out_base = (chunk * taps + tap) * c + c0;
  let lanes = min(c - c0, 4u);
  for (var k = 0u; k < lanes; k++) {
    partial[out_base + k] = acc[k];
  }
}
