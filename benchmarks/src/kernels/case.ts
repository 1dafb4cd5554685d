/**
 * One kernel benchmark case: the same op at the same shape in graft and in TensorFlow.js's WebGPU
 * backend on the same adapter. The harness (run.ts) checks graft's result against its reference
 * on a small instance before timing, then times both and reports graft/tfjs as a ratio.
 */
import type { Gpu } from '@graft/kernels';
import type * as tfcore from '@tensorflow/tfjs-core';

export type Tf = typeof tfcore;

/** An instance ready to run: `run` encodes one iteration; `dispose` frees what setup allocated. */
export interface GraftRun {
  run(): void;
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
