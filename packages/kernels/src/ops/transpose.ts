/** transpose launcher: y [cols, rows] = x [rows, cols]ᵀ. See transpose.wgsl for the kernel. */
import { KernelArgumentError } from '../runtime/errors.js';
import type { Gpu } from '../runtime/gpu.js';
import { runOnHost } from '../runtime/host.js';
import { defineKernel } from '../runtime/kernel.js';
import type { GpuTensor, HostTensor } from '../runtime/tensor.js';
import { expectDType, expectRank, expectShape } from '../runtime/validate.js';
import { linearWorkgroups } from '../runtime/workgroups.js';

const kernel = defineKernel('transpose', import.meta.url);
/** WORKGROUP_SIZE in transpose.wgsl. */
const workgroupSize = 64;

/** The transpose of a 2-D f32 tensor, into `out` ([cols, rows]) when given. */
export function transpose(gpu: Gpu, x: GpuTensor, out?: GpuTensor): GpuTensor {
  expectRank('transpose', 'x', x, 2, '[rows, cols]');
  expectDType('transpose', 'x', x, 'f32');
  const [rows, cols] = [x.shape[0]!, x.shape[1]!];
  if (out) {
    expectShape('transpose', 'out', out, [cols, rows]);
    expectDType('transpose', 'out', out, 'f32');
    if (out.buffer === x.buffer) throw new KernelArgumentError('transpose', 'out', 'a buffer distinct from x', 'the storage of x');
  }
  const y = out ?? gpu.allocate([cols, rows]);
  // 4 x 4 blocks when both sides are whole vec4s, else one element per invocation.
  const blocks = rows % 4 === 0 && cols % 4 === 0;
  const invocations = blocks ? (rows / 4) * (cols / 4) : rows * cols;
  gpu.dispatch(kernel, {
    bindings: [x, y],
    uniforms: { rows, cols },
    workgroups: linearWorkgroups(gpu.limits, invocations, workgroupSize, 'transpose'),
    entryPoint: blocks ? 'main_vec4' : 'main',
  });
  return y;
}

export function transposeHost(gpu: Gpu, x: HostTensor): Promise<HostTensor> {
  return runOnHost(gpu, { x }, (t) => transpose(gpu, t.x));
}
