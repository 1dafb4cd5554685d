// batch_norm_finalize: per channel, from the statistics to the affine map y = x * scale + shift.
//
//   training (is_training = 1):  statistics are the batch mean and biased variance given in
//     batch_mean / batch_var; when update_running = 1 the running buffers are updated in place,
//     PyTorch's way: running = (1 - momentum) * running + momentum * batch, where the variance
//     going in is unbiased (batch_var * count / (count - 1)) unless unbiased_running = 0 (Keras).
//   inference (is_training = 0): statistics are running_mean / running_var; nothing is written to them.
//
//   invstd[c]         = 1 / sqrt(var + eps)                (saved for the backward pass)
//   scale_shift[0, c] = gamma * invstd                     (gamma = 1 when has_gamma = 0)
//   scale_shift[1, c] = beta - mean * gamma * invstd       (beta = 0 when has_beta = 0)
//
// Work split: one invocation per channel. This runs once per layer per step on [c] vectors, so
// its cost is the dispatch, not the arithmetic.

struct Params {
  c: u32,
  count: u32,
  eps: f32,
  momentum: f32,
  is_training: u32,
  update_running: u32,
  unbiased_running: u32,
  has_gamma: u32,
  has_beta: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> batch_mean: array<f32>;
@group(0) @binding(2) var<storage, read> batch_var: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(7) var<storage, read_write> invstd: array<f32>;
@group(0) @binding(8) var<storage, read_write> scale_shift: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let ch = gid.x;
  let c = params.c;
  if (ch >= c) {
    return;
  }
  var mean: f32;
  var variance: f32;
  if (params.is_training == 1u) {
    mean = batch_mean[ch];
    variance = batch_var[ch];
    if (params.update_running == 1u) {
      let count = f32(params.count);
      let correction = select(1.0, count / (count - 1.0), params.unbiased_running == 1u);
      let keep = 1.0 - params.momentum;
      running_mean[ch] = keep * running_mean[ch] + params.momentum * mean;
      running_var[ch] = keep * running_var[ch] + params.momentum * variance * correction;
    }
  } else {
    mean = running_mean[ch];
    variance = running_var[ch];
  }
  let inv = inverseSqrt(variance + params.eps);
  // gamma and beta are read only when present: an absent one is bound to a 16-byte placeholder, and
  // select() would evaluate the read for every channel regardless.
  var g = 1.0;
  if (params.has_gamma == 1u) {
    g = gamma[ch];
  }
  var b = 0.0;
  if (params.has_beta == 1u) {
    b = beta[ch];
  }
  let scale = g * inv;
  invstd[ch] = inv;
  scale_shift[ch] = scale;
  scale_shift[c + ch] = b - mean * scale;
}
