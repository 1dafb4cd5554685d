/**
 * Sum and mean over the leading rows of a [rows, cols] view: per-channel sums of NHWC tensors,
 * bias gradients, and (with cols = 1) full reductions to a scalar.
 */
import type { Gpu } from '../runtime/gpu.js';
import { runOnHost } from '../runtime/host.js';
import { defineKernel } from '../runtime/kernel.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { shapeToString, type GpuTensor, type HostTensor } from '../runtime/tensor.js';
import { expectDType, expectFinite, expectPositiveInt, groupsFor } from '../runtime/validate.js';
import { linearWorkgroups } from '../runtime/workgroups.js';

const kernel = defineKernel('sumRows', import.meta.url);
const rowsPerChunk = 128;
const workgroupSize = 64; // WORKGROUP_SIZE (x) in sumRows.wgsl; y and z fold the chunk index

/** out[c] = scale * sum_r x[r, c] for x viewed as [rows, cols] (rows * cols must equal x.size). */
export function sumRows(gpu: Gpu, x: GpuTensor, cols: number, scale = 1): GpuTensor {
  expectDType('sumRows', 'x', x, 'f32');
  expectPositiveInt('sumRows', 'cols', cols);
  expectFinite('sumRows', 'scale', scale);
  if (x.size % cols !== 0) {
    throw new KernelArgumentError('sumRows', 'x', `a size divisible by cols = ${cols}`, `size ${x.size} ${shapeToString(x.shape)}`);
  }
  let rows = x.size / cols;
  let input = x;
  for (;;) {
    const chunks = groupsFor(rows, rowsPerChunk);
    const out = gpu.allocate(chunks === 1 ? [cols] : [chunks, cols]);
    gpu.dispatch(kernel, {
      bindings: [input, out],
      uniforms: { rows, cols, rows_per_chunk: rowsPerChunk, scale: chunks === 1 ? scale : 1 },
      workgroups: [groupsFor(cols, workgroupSize), ...linearWorkgroups(gpu.limits, chunks, 1, kernel.name)],
    });
    if (input !== x) gpu.release(input);
    if (chunks === 1) return out;
    input = out;
    rows = chunks;
  }
}

/** Sum of every element, as a [1] tensor. */
export function sumAll(gpu: Gpu, x: GpuTensor): GpuTensor {
  return sumRows(gpu, x, 1);
}

/** Mean of every element, as a [1] tensor. */
export function meanAll(gpu: Gpu, x: GpuTensor): GpuTensor {
  return sumRows(gpu, x, 1, 1 / x.size);
}

/** Mean over the leading rows: per-channel means of an NHWC tensor with cols = C. */
export function meanRows(gpu: Gpu, x: GpuTensor, cols: number): GpuTensor {
  return sumRows(gpu, x, cols, cols / x.size);
}

export function sumRowsHost(gpu: Gpu, x: HostTensor, cols: number, scale = 1): Promise<HostTensor> {
  return runOnHost(gpu, { x }, (t) => sumRows(gpu, t.x, cols, scale));
}
