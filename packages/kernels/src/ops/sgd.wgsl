// sgd: one step of torch.optim.SGD (PyTorch 1.13 formulas) for many tensors in one dispatch.
//
//   d_p = grad + weight_decay * param
//   if momentum != 0:
//     buf = d_p                                             on the tensor's first step
//     buf = momentum * buf + (1 - dampening) * d_p          afterwards
//     d_p = nesterov ? d_p + momentum * buf : buf
//   param = param - lr * d_p
//
// Layout: param, grad and momentum_buffer are arenas (see optimizerStep.ts): flat f32 buffers in
// which every tensor sits at the same 256-byte-aligned offset, bound here as vec4s from the first
// tensor's offset. Tensor ends are rounded up to whole vec4s; the up to 3 extra lanes are arena
// padding that belongs to no tensor, and updating it is harmless because every element's update
// reads only that element. momentum_buffer is a placeholder when no tensor uses momentum.
//
// Work split: chunk table entry `chunk` (one per workgroup) names a range of vec4s inside one tensor
// and the row of that tensor's hyperparameters, so tensors with different lr / weight decay share
// the dispatch and every branch below is uniform across a workgroup. Each of the 64 invocations
// updates up to VEC4_PER_INVOCATION = 16 vec4s strided by the workgroup width, so neighbouring
// invocations touch neighbouring addresses: a chunk is 4096 elements. On lavapipe each workgroup has
// a fixed cost (it is one coroutine over SIMD lanes), and for MobileNetV2's 3.5M parameters 16 vec4s
// per invocation measured ~2x faster than 4 (32 was no better). Small tensors (BatchNorm vectors)
// still take one workgroup each, most of whose lanes leave the loop at once.

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

// One per tensor. first_step = 1 makes the momentum buffer start as a copy of d_p.
// 1 - dampening is computed on the host in float64, as PyTorch does.
struct SgdRow {
  lr: f32,
  weight_decay: f32,
  momentum: f32,
  one_minus_dampening: f32,
  nesterov: u32,
  first_step: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> chunks: array<Chunk>;
@group(0) @binding(2) var<storage, read> rows: array<SgdRow>;
@group(0) @binding(3) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> momentum_buffer: array<vec4<f32>>;

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
    let p = param[i];
    var d_p = grad[i] + hp.weight_decay * p;
    if (hp.momentum != 0.0) {
      var buf = d_p;
      if (hp.first_step == 0u) {
        buf = hp.momentum * momentum_buffer[i] + hp.one_minus_dampening * d_p;
      }
      momentum_buffer[i] = buf;
      if (hp.nesterov == 1u) {
        d_p = d_p + hp.momentum * buf;
      } else {
        d_p = buf;
      }
    }
    param[i] = p - hp.lr * d_p;
  }
}
