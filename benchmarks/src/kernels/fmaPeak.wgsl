// fmaPeak: the adapter's f32 fused-multiply-add ceiling, the yardstick for "% of FMA peak" in the
// kernel report. Not a kernel graft computes with.
//
// Each invocation runs 8 independent vec4 FMA chains for `iterations` steps:
//   acc_i = fma(acc_i, m, add_i)
// Eight chains in flight hide the FMA latency (about 4 cycles on CPUs and GPUs alike), so the
// issue rate bounds the loop, not the latency; vec4 matches what graft's kernels do and what CPU
// drivers (lavapipe) vectorise best. Nothing is loaded inside the loop. The accumulators' sum is
// stored so the compiler cannot drop the work; `multiplier` < 1 keeps every value finite.
// Work per invocation: iterations * 8 chains * 4 lanes * 2 FLOPs.

struct Params {
  iterations: u32,
  multiplier: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

const WORKGROUP_SIZE = 64u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let m = vec4f(params.multiplier);
  let s = f32(gid.x & 255u) * 1e-3;
  var acc0 = vec4f(s, s + 0.01, s + 0.02, s + 0.03);
  var acc1 = acc0 + 0.1;
  var acc2 = acc0 + 0.2;
  var acc3 = acc0 + 0.3;
  var acc4 = acc0 + 0.4;
  var acc5 = acc0 + 0.5;
  var acc6 = acc0 + 0.6;
  var acc7 = acc0 + 0.7;
  let add = vec4f(1e-3, 2e-3, 3e-3, 4e-3);
  for (var i = 0u; i < params.iterations; i++) {
    acc0 = fma(acc0, m, add);
    acc1 = fma(acc1, m, add);
    acc2 = fma(acc2, m, add);
    acc3 = fma(acc3, m, add);
    acc4 = fma(acc4, m, add);
    acc5 = fma(acc5, m, add);
    acc6 = fma(acc6, m, add);
    acc7 = fma(acc7, m, add);
  }
  let total = (acc0 + acc1) + (acc2 + acc3) + (acc4 + acc5) + (acc6 + acc7);
  out[gid.x] = total.x + total.y + total.z + total.w;
}
