/** matmul / gemm launcher: C = act(opA . opB + bias), and its backward. See matmul.wgsl for the kernel. */
import { KernelArgumentError } from '../runtime/errors.js';
import type { Gpu } from '../runtime/gpu.js';
import { runOnHost, type HostOutputs } from '../runtime/host.js';
import { defineKernel } from '../runtime/kernel.js';
import type { GpuTensor, HostTensor } from '../runtime/tensor.js';
import { activationCode, expectDType, expectRank, expectShape, groupsFor, type Activation } from '../runtime/validate.js';
import { sumRows } from './sumRows.js';
import { transpose } from './transpose.js';

const kernel = defineKernel('matmul', import.meta.url);
/** Rows of C per workgroup and columns per invocation: TILE_M and TILE_N in matmul.wgsl. */
const tileRows = 8;
const colsPerInvocation = 16;

/**
 * From this many rows of C, a transposed B ([N, K]) is first copied to [K, N] by the transpose
 * kernel so the product takes main_vec4 (~2.5x the speed of main's scalar transB loads at 1024^3).
 * The copy costs about as much as a matmul with ~40 rows (measured on lavapipe); below 64 rows the
 * scalar path wins or ties.
 */
const transposeBFromRows = 64;

/** Up to this N, main_narrow (one vec4 of columns per lane) beats main_vec4 (measured: matmul.wgsl header). */
const narrowMaxCols = 32;
/** main_narrow's @workgroup_size. */
const narrowWorkgroup = 8;

/** The fewest invocations (8, 16 or 32) whose columns cover N, so narrow matrices leave no lanes idle. */
function workgroupSize(n: number): number {
  for (const size of [8, 16]) if (size * colsPerInvocation >= n) return size;
  return 32;
}

export interface MatmulOptions {
  /** A is stored [K, M] and used transposed. */
  transA?: boolean;
  /** B is stored [N, K] and used transposed (PyTorch Linear weights). */
  transB?: boolean;
  bias?: GpuTensor;
  /**
   * [2, N]: a per-column scale row and shift row applied as fma(acc, scale, shift) before the
   * activation: a frozen batch norm fused into a 1x1 convolution (batchNormScaleShift gives it).
   * Bit-identical to matmul then batchNormApply. Not together with bias.
   */
  scaleShift?: GpuTensor;
  activation?: Activation;
}

interface MatmulDims {
  m: number;
  n: number;
  k: number;
}

function dims(a: GpuTensor, b: GpuTensor, options: MatmulOptions): MatmulDims {
  expectRank('matmul', 'a', a, 2, options.transA ? '[K, M]' : '[M, K]');
  expectRank('matmul', 'b', b, 2, options.transB ? '[N, K]' : '[K, N]');
  const [m, k] = options.transA ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
  const n = options.transB ? b.shape[0]! : b.shape[1]!;
  expectShape('matmul', 'b', b, options.transB ? [n, k] : [k, n], `K = ${k} from a`);
  if (options.bias) expectShape('matmul', 'bias', options.bias, [n], 'one per output column');
  if (options.scaleShift) {
    if (options.bias) throw new KernelArgumentError('matmul', 'scaleShift', 'no bias beside it (fold the bias into the shift)', 'a bias too');
    expectShape('matmul', 'scaleShift', options.scaleShift, [2, n], 'scale row, shift row, one per output column');
  }
  for (const [name, t] of [['a', a], ['b', b], ['bias', options.bias], ['scaleShift', options.scaleShift]] as const) if (t) expectDType('matmul', name, t, 'f32');
  return { m, n, k };
}

/** Computes into `out` when given (shape [M, N]); otherwise allocates it. */
export function matmul(gpu: Gpu, a: GpuTensor, b: GpuTensor, options: MatmulOptions = {}, out?: GpuTensor): GpuTensor {
  const { m, n, k } = dims(a, b, options);
  const activation = activationCode('matmul', options.activation);
  if (out) {
    expectShape('matmul', 'out', out, [m, n]);
    expectDType('matmul', 'out', out, 'f32');
    if (out.buffer === a.buffer || out.buffer === b.buffer) throw new KernelArgumentError('matmul', 'out', 'a buffer distinct from a and b', 'the storage of an input');
  }
  const c = out ?? gpu.allocate([m, n]);
  const affine = options.scaleShift ?? options.bias ?? gpu.placeholder();
  const epilogue = { has_bias: options.bias ? 1 : 0, scale_shift: options.scaleShift ? 1 : 0, activation };
  const maxGroups = gpu.limits.maxComputeWorkgroupsPerDimension;
  const wgSize = workgroupSize(n);
  // Row blocks fill the y dimension of the grid, then continue in z (the kernel reads num_workgroups).
  const rowGroups = groupsFor(m, tileRows);
  const layers = groupsFor(rowGroups, maxGroups);
  // B as vec4 (one load per 4 columns) when its rows are contiguous and whole vec4s; a transposed B
  // is made so by a transpose into scratch memory when M is large enough to repay the copy. Narrow
  // products (N <= 32) take main_narrow, whose lanes own 4 columns each instead of 16.
  const vec4 = n % 4 === 0 && (!options.transB || m >= transposeBFromRows);
  const bT = vec4 && options.transB ? transpose(gpu, b) : null;
  const narrow = vec4 && !options.transB && n <= narrowMaxCols;
  try {
    gpu.dispatch(kernel, {
      bindings: [a, bT ?? b, affine, c],
      uniforms: { m, n, k, ...epilogue },
      workgroups: [groupsFor(n, narrow ? narrowWorkgroup * 4 : wgSize * colsPerInvocation), groupsFor(rowGroups, layers), layers],
      entryPoint: narrow ? 'main_narrow' : vec4 ? 'main_vec4' : 'main',
      overrides: { trans_a: options.transA ? 1 : 0, trans_b: options.transB && !bT ? 1 : 0, wg_size: wgSize },
    });
  } finally {
    gpu.release(bT); // the queue runs in order: the dispatch above still reads it
  }
  return c;
}

export interface MatmulGrads {
  da?: GpuTensor;
  db?: GpuTensor;
  dbias?: GpuTensor;
}

/**
 * Gradients of C = opA . opB + bias w.r.t. A, B (in their storage layouts) and bias, from dC [M, N].
 * A fused activation's gradient is applied to dC beforehand (activationBackward).
 * Only the requested gradients are computed: a frozen weight costs nothing.
 */
export function matmulBackward(
  gpu: Gpu,
  dc: GpuTensor,
  a: GpuTensor,
  b: GpuTensor,
  options: { transA?: boolean; transB?: boolean },
  wanted: { a?: boolean; b?: boolean; bias?: boolean } = { a: true, b: true, bias: true },
): MatmulGrads {
  const { m, n } = dims(a, b, options);
  expectShape('matmulBackward', 'dc', dc, [m, n]);
  const grads: MatmulGrads = {};
  // Each gradient is itself a matmul; which operand is transposed follows from the storage layouts.
  if (wanted.a) {
    grads.da = options.transA
      ? matmul(gpu, b, dc, { transA: !!options.transB, transB: true }) // dA^T[K,M] = opB . dC^T
      : matmul(gpu, dc, b, { transB: !options.transB }); // dA[M,K] = dC . opB^T
  }
  if (wanted.b) {
    grads.db = options.transB
      ? matmul(gpu, dc, a, { transA: true, transB: !!options.transA }) // dB^T[N,K] = dC^T . opA
      : matmul(gpu, a, dc, { transA: !options.transA }); // dB[K,N] = opA^T . dC
  }
  if (wanted.bias) grads.dbias = sumRows(gpu, dc, n);
  return grads;
}

export function matmulHost(gpu: Gpu, a: HostTensor, b: HostTensor, options: Omit<MatmulOptions, 'bias' | 'scaleShift'> & { bias?: HostTensor; scaleShift?: HostTensor } = {}): Promise<HostTensor> {
  return runOnHost(gpu, { a, b, bias: options.bias, scaleShift: options.scaleShift }, (t) => matmul(gpu, t.a, t.b, { ...options, bias: t.bias, scaleShift: t.scaleShift }));
}

export function matmulBackwardHost(
  gpu: Gpu,
  dc: HostTensor,
  a: HostTensor,
  b: HostTensor,
  options: { transA?: boolean; transB?: boolean } = {},
): Promise<HostOutputs<MatmulGrads>> {
  return runOnHost(gpu, { dc, a, b }, (t) => matmulBackward(gpu, t.dc, t.a, t.b, options));
}
