// softmax_cross_entropy_mean: loss = loss_sum / weight_sum, both [1] tensors reduced by sumRows from
// the per-sample losses and sample weights w[y_i]. PyTorch's 'mean' with class weights divides by the
// sum of the sample weights (not by n), and that sum is GPU data, so the division is one invocation here.

@group(0) @binding(1) var<storage, read> loss_sum: array<f32>;
@group(0) @binding(2) var<storage, read> weight_sum: array<f32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;

@compute @workgroup_size(1, 1, 1)
fn main() {
  loss[0] = loss_sum[0] / weight_sum[0];
}
