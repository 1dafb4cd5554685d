// global_avg_pool_backward: dx[n, y, x, c] = dy[n, c] / (h * w)
//
// Every input position received 1 / (h * w) of its channel's mean, so the gradient is dy spread
// evenly. Layout: dy is [n, c]; dx is NHWC [n, h, w, c].
// Work split: the mirror image of the forward. One invocation per (n, group of
// CHANNELS_PER_INVOCATION = 4 neighbouring channels) reads its four dy values once, scales them,
// and writes them at each of the h * w positions (16 contiguous bytes per position; neighbouring
// invocations write the neighbouring 16 bytes). An earlier version with one invocation per four
// flat elements spent most of its time recovering (n, c) with an integer division per element.

struct Params {
  n: u32,
  hw: u32,
  c: u32,
  inv_hw: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

const CHANNELS_PER_INVOCATION = 4u;
const WORKGROUP_SIZE = 64u;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let c = params.c;
  let channel_groups = (c + CHANNELS_PER_INVOCATION - 1u) / CHANNELS_PER_INVOCATION;
  let invocation = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (invocation >= params.n * channel_groups) {
    return;
  }
  let image = invocation / channel_groups;
  let c0 = (invocation % channel_groups) * CHANNELS_PER_INVOCATION;

  var g: vec4<f32>;
  for (var j = 0u; j < CHANNELS_PER_INVOCATION; j++) {
    g[j] = dy[image * c + min(c0 + j, c - 1u)] * params.inv_hw;
  }
  var base = image * params.hw * c + c0;
  for (var p = 0u; p < params.hw; p++) {
    for (var j = 0u; j < CHANNELS_PER_INVOCATION; j++) {
      if (c0 + j < c) {
        dx[base + j] = g[j];
      }
    }
    base += c;
  }
}
