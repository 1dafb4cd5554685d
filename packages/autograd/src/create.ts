/** Making leaf tensors: inputs and parameters, from host data or already on the GPU. */
import type { Gpu, GpuTensor, Shape } from '@graft/kernels';
import { Tensor } from './tensor.js';

export interface TensorOptions {
  requiresGrad?: boolean;
  name?: string;
}

/** A leaf tensor holding a copy of `data`. */
export function tensor(gpu: Gpu, data: Float32Array | readonly number[], shape: Shape, options: TensorOptions = {}): Tensor {
  const values = data instanceof Float32Array ? data : Float32Array.from(data);
  return new Tensor(gpu, gpu.upload(values, shape), options.requiresGrad ?? false, null, options.name ?? '');
}

/** A leaf tensor that takes ownership of `storage`. */
export function fromGpu(gpu: Gpu, storage: GpuTensor, options: TensorOptions = {}): Tensor {
  return new Tensor(gpu, storage, options.requiresGrad ?? false, null, options.name ?? '');
}
