/**
 * One kernel benchmark case: the same op at the same shape in graft and in TensorFlow.js's WebGPU
 * backend on the same adapter. Correctness is the kernel tests' job; the harness (run.ts) only checks
 * that graft's result is finite, then times both and reports graft/tfjs as a throughput ratio.
 */
import type { Gpu, GpuTensor } from '@graft/kernels';
import type * as tfcore from '@tensorflow/tfjs-core';

export type Tf = typeof tfcore;

/**
 * An instance ready to run: `run` encodes one iteration; `dispose` frees what setup allocated.
 * `run` should return the iteration's result tensor(s): the harness checks that they are finite.
 * Returned tensors that the iteration itself allocated are released by the harness after use;
 * tensors the case allocated in setup (an `out` buffer written in place) stay the case's to free.
 */
export interface GraftRun {
  run(): void | GpuTensor | readonly GpuTensor[];
  dispose(): void;
}

/** `run` returns the tensors it produced so the harness can wait on and dispose them. */
export interface TfRun {
  run(): tfcore.Tensor | tfcore.Tensor[];
  dispose(): void;
}

export interface KernelBenchCase {
  /** Kernel family, e.g. 'conv2d', 'depthwiseConv2d', 'matmul'. */
  kernel: string;
  /** Human label with the shape, e.g. 'conv 3x3 56x56x64->64 b8'. */
  label: string;
  direction: 'forward' | 'backward';
  /** Useful floating-point operations of one iteration (2 per multiply-add). */
  flops: number;
  /** Minimum bytes one iteration must move (inputs read once + outputs written once). */
  bytes: number;
  graft(gpu: Gpu): GraftRun;
  /** Absent when tfjs has no equivalent op; the report then shows no ratio. */
  tfjs?(tf: Tf): TfRun;
}
