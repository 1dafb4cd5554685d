/** Residual add with fused activation, y = act(a + b), and its backward. See addActivation.wgsl. */
import type { Gpu } from '../runtime/gpu.js';
import { runOnHost } from '../runtime/host.js';
import { defineKernel } from '../runtime/kernel.js';
import type { GpuTensor, HostTensor } from '../runtime/tensor.js';
import { activationCode, expectDType, expectShape, groupsFor, type Activation } from '../runtime/validate.js';
import { linearWorkgroups } from '../runtime/workgroups.js';
import { activationBackward } from './activation.js';

const kernel = defineKernel('addActivation', import.meta.url);
const elementsPerInvocation = 4; // ELEMENTS_PER_INVOCATION in addActivation.wgsl
const workgroupSize = 64; // WORKGROUP_SIZE in addActivation.wgsl

/** y = act(a + b) for a and b of one shape (the residual join of a ResNet block). */
export function addActivation(gpu: Gpu, a: GpuTensor, b: GpuTensor, kind: Activation = 'none'): GpuTensor {
  const code = activationCode('addActivation', kind);
  expectDType('addActivation', 'a', a, 'f32');
  expectDType('addActivation', 'b', b, 'f32');
  expectShape('addActivation', 'b', b, a.shape, "a's shape");
  const y = gpu.allocate(a.shape);
  gpu.dispatch(kernel, {
    bindings: [a, b, y],
    uniforms: { size: a.size, activation: code },
    workgroups: linearWorkgroups(gpu.limits, groupsFor(a.size, elementsPerInvocation), workgroupSize, kernel.name),
  });
  return y;
}

/**
 * Gradient of y = act(a + b): da = db = dy * act'(y), one tensor that serves as both (the
 * caller must not release it twice). It is activationBackward, from the output y.
 */
export function addActivationBackward(gpu: Gpu, dy: GpuTensor, y: GpuTensor, kind: Activation = 'none'): GpuTensor {
  activationCode('addActivationBackward', kind);
  expectDType('addActivationBackward', 'dy', dy, 'f32');
  expectShape('addActivationBackward', 'y', y, dy.shape, 'same shape as dy');
  expectDType('addActivationBackward', 'y', y, 'f32');
  return activationBackward(gpu, dy, y, kind);
}

export function addActivationHost(gpu: Gpu, a: HostTensor, b: HostTensor, kind: Activation = 'none'): Promise<HostTensor> {
  return runOnHost(gpu, { a, b }, (t) => addActivation(gpu, t.a, t.b, kind));
}

export function addActivationBackwardHost(gpu: Gpu, dy: HostTensor, y: HostTensor, kind: Activation = 'none'): Promise<HostTensor> {
  return runOnHost(gpu, { dy, y }, (t) => addActivationBackward(gpu, t.dy, t.y, kind));
}
