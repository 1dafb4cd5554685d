/** Global average pooling over h and w of an NHWC tensor, and its backward. See globalAvgPool.wgsl. */
import type { Gpu } from '../runtime/gpu.js';
import { runOnHost } from '../runtime/host.js';
import { defineKernel } from '../runtime/kernel.js';
import type { GpuTensor, HostTensor, Shape } from '../runtime/tensor.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { expectDType, expectRank, expectShape, groupsFor } from '../runtime/validate.js';
import { linearWorkgroups } from '../runtime/workgroups.js';

const forwardKernel = defineKernel('globalAvgPool', import.meta.url);
const backwardKernel = defineKernel('globalAvgPoolBackward', import.meta.url);
const channelsPerInvocation = 4; // CHANNELS_PER_INVOCATION in both kernels
const workgroupSize = 64; // WORKGROUP_SIZE in both kernels

/** y[n, c] = mean over (h, w) of x[n, h, w, c]. */
export function globalAvgPool(gpu: Gpu, x: GpuTensor): GpuTensor {
  expectRank('globalAvgPool', 'x', x, 4, 'NHWC [n, h, w, c]');
  expectDType('globalAvgPool', 'x', x, 'f32');
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const y = gpu.allocate([n, c]);
  gpu.dispatch(forwardKernel, {
    bindings: [x, y],
    uniforms: { n, hw: h * w, c, inv_hw: 1 / (h * w) },
    workgroups: linearWorkgroups(gpu.limits, n * groupsFor(c, channelsPerInvocation), workgroupSize, forwardKernel.name),
  });
  return y;
}

/** dx[n, h, w, c] = dy[n, c] / (h * w), for the input shape `xShape` [n, h, w, c]. */
export function globalAvgPoolBackward(gpu: Gpu, dy: GpuTensor, xShape: Shape): GpuTensor {
  if (xShape.length !== 4 || !xShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new KernelArgumentError('globalAvgPoolBackward', 'xShape', 'NHWC [n, h, w, c] of positive integers', JSON.stringify(xShape));
  }
  const [n, h, w, c] = xShape as [number, number, number, number];
  expectShape('globalAvgPoolBackward', 'dy', dy, [n, c], '[n, c] of the forward output');
  expectDType('globalAvgPoolBackward', 'dy', dy, 'f32');
  const dx = gpu.allocate(xShape);
  gpu.dispatch(backwardKernel, {
    bindings: [dy, dx],
    uniforms: { n, hw: h * w, c, inv_hw: 1 / (h * w) },
    workgroups: linearWorkgroups(gpu.limits, n * groupsFor(c, channelsPerInvocation), workgroupSize, backwardKernel.name),
  });
  return dx;
}

export function globalAvgPoolHost(gpu: Gpu, x: HostTensor): Promise<HostTensor> {
  return runOnHost(gpu, { x }, (t) => globalAvgPool(gpu, t.x));
}

export function globalAvgPoolBackwardHost(gpu: Gpu, dy: HostTensor, xShape: Shape): Promise<HostTensor> {
  return runOnHost(gpu, { dy }, (t) => globalAvgPoolBackward(gpu, t.dy, xShape));
}
