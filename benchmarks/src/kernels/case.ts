/**
 * One kernel benchmark case: the same op at the same shape in graft and in TensorFlow.js's WebGPU
 * backend on the same adapter. The harness (run.ts) checks, then times: one graft run must give
 * finite outputs that match one tfjs run on the same inputs (check.ts; `checkAgainstPeer` says
 * which outputs correspond, or why none do), then it times both and reports graft/tfjs as a
 * throughput ratio. The kernel tests remain the full correctness evidence.
 */
import type { Gpu, GpuTensor } from '@graft/kernels';
import type * as tfcore from '@tensorflow/tfjs-core';

export type Tf = typeof tfcore;

/**
 * An instance ready to run: `run` encodes one iteration; `dispose` frees what setup allocated.
 * `run` should return the iteration's result tensor(s): the harness checks them (finite, and
 * against the tfjs peer's) before timing.
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

/**
 * How a case's outputs are checked against its tfjs peer's before timing.
 * - absent: graft's and tfjs's outputs correspond pairwise in order, same element counts, compared
 *   with check.ts's default tolerance.
 * - `{ rtol?, atol?, pairs? }`: another tolerance (with its reason in a comment), and/or which graft
 *   output corresponds to which tfjs output, as [graftIndex, tfjsIndex] (outputs not named are not
 *   compared: e.g. graft's invstd beside tfjs's variance).
 * - `{ skip: reason }`: nothing corresponds (random masks, different meanings); graft's outputs are
 *   still checked for finiteness, and the reason is recorded in the report.
 */
export type PeerCheck =
  | { skip: string }
  | { rtol?: number; atol?: number; pairs?: readonly (readonly [graft: number, tfjs: number])[] };

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
  /** See PeerCheck; absent means every output pairs up in order at the default tolerance. */
  checkAgainstPeer?: PeerCheck;
}
