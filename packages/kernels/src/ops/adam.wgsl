// adam: one step of torch.optim.Adam or torch.optim.AdamW (PyTorch 1.13, amsgrad off) for many
// tensors in one dispatch. Per tensor row, with t its 1-based step:
//
//   param = param_scale * param                       AdamW: 1 - lr * weight_decay;  Adam: 1
//   g     = grad + weight_decay * param               Adam's L2 term;  AdamW rows hold weight_decay 0
//   m     = beta1 * m + (1 - beta1) * g
//   v     = beta2 * v + (1 - beta2) * g * g
//   denom = sqrt(v) / bias_correction2_sqrt + eps     bias_correction2_sqrt = sqrt(1 - beta2^t)
//   param = param - step_size * m / denom             step_size = lr / (1 - beta1^t)
//
// This is PyTorch's arrangement of the bias corrections (not m_hat / (sqrt(v_hat) + eps)), so eps
// enters exactly as it does there. The scalars that depend on t are computed by the launcher in
// float64 per tensor, so tensors at different steps and Adam/AdamW rows can share a dispatch.
//
// Layout and work split: as sgd.wgsl. param, grad, exp_avg (m) and exp_avg_sq (v) are arenas with
// every tensor at the same offset; one workgroup per chunk-table entry, whose row selects the
// tensor's hyperparameters; 64 invocations each update up to 16 vec4s strided by the workgroup width (why 16: sgd.wgsl).
// Padding lanes after a tensor's last element are updated harmlessly (they belong to no tensor).

struct Params {
  chunk_count: u32,
}

// One per workgroup; start and end count vec4s from the bound span's start.
struct Chunk {
  start: u32,
  end: u32,
  row: u32,
  unused: u32,
}

// One per tensor. 1 - beta is computed on the host in float64, as PyTorch does: in f32,
// 1 - f32(0.999) is off from 0.001 by 1.3e-5 relative.
struct AdamRow {
  param_scale: f32,
  weight_decay: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  step_size: f32,
  bias_correction2_sqrt: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> chunks: array<Chunk>;
@group(0) @binding(2) var<storage, read> rows: array<AdamRow>;
@group(0) @binding(3) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> exp_avg: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> exp_avg_sq: array<vec4<f32>>;

const WORKGROUP_SIZE = 64u;
const VEC4_PER_INVOCATION = 16u;

@compute @workgroup_size(64, 1, 1)
fn main(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let chunk_index = group.y * groups.x + group.x;
  if (chunk_index >= params.chunk_count) {
    return;
  }
  let chunk = chunks[chunk_index];
  let hp = rows[chunk.row];
  for (var k = 0u; k < VEC4_PER_INVOCATION; k++) {
    let i = chunk.start + k * WORKGROUP_SIZE + lane;
    if (i >= chunk.end) {
      break;
    }
    let p = hp.param_scale * param[i];
    let g = grad[i] + hp.weight_decay * p;
    let m = hp.beta1 * exp_avg[i] + hp.one_minus_beta1 * g;
    let v = hp.beta2 * exp_avg_sq[i] + hp.one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    let denom = sqrt(v) / hp.bias_correction2_sqrt + hp.eps;
    param[i] = p - hp.step_size * (m / denom);
  }
}
