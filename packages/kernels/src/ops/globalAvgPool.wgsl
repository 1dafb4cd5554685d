// global_avg_pool: y[n, c] = (1 / (h * w)) * sum_{y, x} x[n, y, x, c]
//
// Layout: x is NHWC [n, h, w, c]; y is [n, c]. Work split: one invocation per (n, group of
// CHANNELS_PER_INVOCATION = 4 neighbouring channels); it walks the h * w positions of its image
// (the reduction itself, not a hidden loop) and keeps the four sums in a vec4. Four channels sit
// next to each other in memory, so each step reads 16 contiguous bytes, and neighbouring
// invocations read the neighbouring 16 bytes. Channels past c are clamped for loads and dropped.
// The head of ResNet/MobileNet has h * w = 49 and c = 1280..2048, so n * c / 4 invocations are
// plenty to fill the device; no cross-invocation reduction (and no barrier) is needed.

struct Params {
  n: u32,
  hw: u32,
  c: u32,
  inv_hw: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

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
  var channel: vec4<u32>;
  for (var j = 0u; j < CHANNELS_PER_INVOCATION; j++) {
    channel[j] = min(c0 + j, c - 1u);
  }

  var sum = vec4<f32>(0.0);
  var base = image * params.hw * c;
  for (var p = 0u; p < params.hw; p++) {
    sum += vec4<f32>(x[base + channel[0]], x[base + channel[1]], x[base + channel[2]], x[base + channel[3]]);
    base += c;
  }
  let mean = sum * params.inv_hw;
  for (var j = 0u; j < CHANNELS_PER_INVOCATION; j++) {
    if (c0 + j < c) {
      y[image * c + c0 + j] = mean[j];
    }
  }
}
