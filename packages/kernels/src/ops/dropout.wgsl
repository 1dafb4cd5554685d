// dropout (seeded, inverted): y[i] = keep(seed, i) ? x[i] * scale : 0,   scale = 1 / (1 - p)
//   pcg(v)        = PCG output hash (Jarzynski & Olano 2020):
//                     s = v * 747796405 + 2891336453;  w = ((s >> ((s >> 28) + 4)) ^ s) * 277803737;
//                     return (w >> 22) ^ w                                  (all u32, wrapping)
//   bits(seed, i) = pcg(pcg(i) ^ pcg(seed))
//   keep(seed, i) = bits(seed, i) >= threshold,   threshold = floor(p * 2^32) (computed by the launcher
//                   in f64, so the keep probability is 1 - p to within 2^-32 with no f32 rounding)
// The mask is a pure function of (seed, i): the backward is this same kernel applied to dy with the
// same seed (dx = dy * mask / (1 - p)), and no mask is stored. docs/kernels/dropout.md holds the
// written spec that dropout.ref.ts implements independently.
//
// Layout: x and y are flat [size]. Work split: each invocation computes ELEMENTS_PER_INVOCATION
// consecutive elements (the flat split of the elementwise kernels; workgroups may fold over two grid
// dimensions past the per-dimension limit, and the flat index unfolds them).

struct Params {
  size: u32,
  seed: u32,
  threshold: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

const ELEMENTS_PER_INVOCATION = 4u;
const WORKGROUP_SIZE = 64u;

fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let invocation = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  let first = invocation * ELEMENTS_PER_INVOCATION;
  if (first >= params.size) {
    return;
  }
  let seed_hash = pcg(params.seed);
  let last = min(first + ELEMENTS_PER_INVOCATION, params.size);
  for (var i = first; i < last; i++) {
    let keep = pcg(pcg(i) ^ seed_hash) >= params.threshold;
    y[i] = select(0.0, x[i] * params.scale, keep);
  }
}
