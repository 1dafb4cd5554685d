// Device and runtime
export { acquireDevice, gpuInstanceOf, isSoftwareAdapter, type AcquiredDevice, type AdapterPreference, type DeviceOptions } from './device/device.js';
export { describeAdapter, type AdapterDescription } from './device/describe.js';
export { createGpu, Gpu, type DispatchSpec } from './runtime/gpu.js';
export { GpuTensor, sizeOf, shapeToString, type DType, type HostTensor, type Shape } from './runtime/tensor.js';
export { defineKernel, defineKernelFromSource, Kernel } from './runtime/kernel.js';
export { runOnHost, type HostOutputs } from './runtime/host.js';
export { preloadShaders } from './runtime/shaderText.js';
export { parseUniformLayout, packUniforms, type UniformLayout } from './runtime/uniforms.js';
export { DeviceLimitError, GpuValidationError, KernelArgumentError, NoAdapterError, ShaderCompileError } from './runtime/errors.js';
export { activations, type Activation } from './runtime/validate.js';
export type { PoolStats } from './runtime/bufferPool.js';

// Kernels
export { runKernelSmoke, type SmokeResult } from './smoke.js';
export * from './ops/index.js';
