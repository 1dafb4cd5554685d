/**
 * Seeded inverted dropout (PyTorch / Keras semantics): y = x * mask / (1 - p), where the mask is a
 * counter-based hash of (seed, element index), so the backward regenerates it instead of storing it.
 * See dropout.wgsl for the hash and docs/kernels/dropout.md for its written definition.
 */
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { runOnHost } from '../runtime/host.js';
import { defineKernel } from '../runtime/kernel.js';
import type { GpuTensor, HostTensor } from '../runtime/tensor.js';
import { expectDType, groupsFor } from '../runtime/validate.js';
import { linearWorkgroups } from '../runtime/workgroups.js';

const kernel = defineKernel('dropout', import.meta.url);
/** Must match ELEMENTS_PER_INVOCATION in dropout.wgsl. */
const elementsPerInvocation = 4;
const workgroupSize = 64; // WORKGROUP_SIZE in dropout.wgsl

function checkArguments(name: string, p: number, seed: number): void {
  if (!(Number.isFinite(p) && p >= 0 && p < 1)) throw new KernelArgumentError(name, 'p', 'a drop probability in [0, 1)', String(p));
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new KernelArgumentError(name, 'seed', 'a u32 integer', String(seed));
}

function dispatchDropout(gpu: Gpu, name: string, x: GpuTensor, p: number, seed: number): GpuTensor {
  checkArguments(name, p, seed);
  expectDType(name, 'x', x, 'f32');
  const y = gpu.allocate(x.shape);
  gpu.dispatch(kernel, {
    bindings: [x, y],
    // threshold = floor(p * 2^32) < 2^32 for p < 1; computed in f64 so the keep rate is exact to 2^-32.
    uniforms: { size: x.size, seed, threshold: Math.floor(p * 2 ** 32), scale: 1 / (1 - p) },
    workgroups: linearWorkgroups(gpu.limits, groupsFor(x.size, elementsPerInvocation), workgroupSize, kernel.name),
  });
  return y;
}

/** y = x * mask(seed) / (1 - p); p in [0, 1), seed a u32. p = 0 is the identity (a copy). */
export function dropout(gpu: Gpu, x: GpuTensor, p: number, seed: number): GpuTensor {
  return dispatchDropout(gpu, 'dropout', x, p, seed);
}

/** dx = dy * mask(seed) / (1 - p): the forward's mask, regenerated from the same seed and p. */
export function dropoutBackward(gpu: Gpu, dy: GpuTensor, p: number, seed: number): GpuTensor {
  return dispatchDropout(gpu, 'dropoutBackward', dy, p, seed);
}

export function dropoutHost(gpu: Gpu, x: HostTensor, p: number, seed: number): Promise<HostTensor> {
  return runOnHost(gpu, { x }, (t) => dropout(gpu, t.x, p, seed));
}

export function dropoutBackwardHost(gpu: Gpu, dy: HostTensor, p: number, seed: number): Promise<HostTensor> {
  return runOnHost(gpu, { dy }, (t) => dropoutBackward(gpu, t.dy, p, seed));
}
