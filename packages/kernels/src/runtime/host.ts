/**
 * The host-level face of every kernel: typed arrays + shapes in, typed arrays out. Uploads the
 * inputs, runs the GPU launcher, reads the outputs back and returns every buffer to the pool.
 * Tests, benchmarks and outside conformance harnesses drive single kernels through this.
 */
import type { Gpu } from './gpu.js';
import type { GpuTensor, HostTensor } from './tensor.js';

/** The host-side counterpart of a launcher's output: one tensor, or a record of (optional) tensors. */
export type HostOutputs<O> = O extends GpuTensor ? HostTensor : { [K in keyof O]: undefined extends O[K] ? HostTensor | undefined : HostTensor };

export async function runOnHost<I extends Record<string, HostTensor | undefined>, O extends GpuTensor | object>(
  gpu: Gpu,
  inputs: I,
  run: (tensors: { [K in keyof I]: I[K] extends HostTensor ? GpuTensor : GpuTensor | undefined }) => O,
): Promise<HostOutputs<O>> {
  const uploaded: Record<string, GpuTensor | undefined> = {};
  for (const [name, host] of Object.entries(inputs)) uploaded[name] = host ? gpu.upload(host.data, host.shape) : undefined;
  let outputs: O | undefined;
  try {
    outputs = run(uploaded as never);
    if (isTensor(outputs)) return { data: await gpu.read(outputs), shape: outputs.shape } as HostOutputs<O>;
    const result: Record<string, HostTensor | undefined> = {};
    for (const [name, t] of Object.entries(outputs) as [string, GpuTensor | undefined][]) result[name] = t ? { data: await gpu.read(t), shape: t.shape } : undefined;
    return result as HostOutputs<O>;
  } finally {
    const inputTensors = new Set(Object.values(uploaded));
    gpu.release(...inputTensors);
    if (outputs) {
      const outs = isTensor(outputs) ? [outputs] : (Object.values(outputs) as (GpuTensor | undefined)[]);
      gpu.release(...outs.filter((t) => t && !inputTensors.has(t)));
    }
  }
}

function isTensor(value: unknown): value is GpuTensor {
  return typeof value === 'object' && value !== null && 'buffer' in value && 'shape' in value;
}
