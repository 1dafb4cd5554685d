/**
 * Standalone relu / relu6 and activationBackward: the gradient of any activation, fused or not,
 * from its OUTPUT y. See activation.wgsl, activationBackward.wgsl and docs/kernels/elementwise.md.
 */
import type { Gpu } from '../runtime/gpu.js';
import { runOnHost } from '../runtime/host.js';
import { defineKernel } from '../runtime/kernel.js';
import type { GpuTensor, HostTensor } from '../runtime/tensor.js';
import { activationCode, expectDType, expectShape, groupsFor, type Activation } from '../runtime/validate.js';
import { linearWorkgroups } from '../runtime/workgroups.js';

const forwardKernel = defineKernel('activation', import.meta.url);
const backwardKernel = defineKernel('activationBackward', import.meta.url);
const elementsPerInvocation = 4; // ELEMENTS_PER_INVOCATION in both kernels
const workgroupSize = 64; // WORKGROUP_SIZE in both kernels

/** y = act(x); 'none' is a copy. */
export function activation(gpu: Gpu, x: GpuTensor, kind: Activation): GpuTensor {
  const code = activationCode('activation', kind);
  expectDType('activation', 'x', x, 'f32');
  const y = gpu.allocate(x.shape);
  gpu.dispatch(forwardKernel, {
    bindings: [x, y],
    uniforms: { size: x.size, activation: code },
    workgroups: linearWorkgroups(gpu.limits, groupsFor(x.size, elementsPerInvocation), workgroupSize, forwardKernel.name),
  });
  return y;
}

export const relu = (gpu: Gpu, x: GpuTensor) => activation(gpu, x, 'relu');
export const relu6 = (gpu: Gpu, x: GpuTensor) => activation(gpu, x, 'relu6');

/**
 * dx = dy * act'(y) with the derivative read from the output y: relu passes where y > 0, relu6
 * where 0 < y < 6 (strictly: 0 at the kinks, like PyTorch's threshold_backward and
 * hardtanh_backward); 'none' passes everything (a copy).
 */
export function activationBackward(gpu: Gpu, dy: GpuTensor, y: GpuTensor, kind: Activation): GpuTensor {
  const code = activationCode('activationBackward', kind);
  expectDType('activationBackward', 'dy', dy, 'f32');
  expectShape('activationBackward', 'y', y, dy.shape, 'same shape as dy');
  expectDType('activationBackward', 'y', y, 'f32');
  const dx = gpu.allocate(dy.shape);
  gpu.dispatch(backwardKernel, {
    bindings: [dy, y, dx],
    uniforms: { size: dy.size, activation: code },
    workgroups: linearWorkgroups(gpu.limits, groupsFor(dy.size, elementsPerInvocation), workgroupSize, backwardKernel.name),
  });
  return dx;
}

export function activationHost(gpu: Gpu, x: HostTensor, kind: Activation): Promise<HostTensor> {
  return runOnHost(gpu, { x }, (t) => activation(gpu, t.x, kind));
}

export function activationBackwardHost(gpu: Gpu, dy: HostTensor, y: HostTensor, kind: Activation): Promise<HostTensor> {
  return runOnHost(gpu, { dy, y }, (t) => activationBackward(gpu, t.dy, t.y, kind));
}
