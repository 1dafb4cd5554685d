/**
 * Depthwise conv2d (channel multiplier 1) launcher: y = act(depthwise(x, w) + bias), or with a fused frozen
 * batch norm y = act(fma(depthwise(x, w), scale, shift)), and its backward.
 * See depthwiseConv2d.wgsl, depthwiseConv2dBackwardInput.wgsl and depthwiseConv2dBackwardFilter.wgsl.
 */
import type { Gpu } from '../runtime/gpu.js';
import { runOnHost } from '../runtime/host.js';
import { defineKernel } from '../runtime/kernel.js';
import type { GpuTensor, HostTensor, Shape } from '../runtime/tensor.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { activationCode, expectDType, expectRank, expectShape, groupsFor, type Activation } from '../runtime/validate.js';
import { linearWorkgroups } from '../runtime/workgroups.js';
import { convOutputSize, pairOf, resolvePadding, type Padding } from './padding.js';
import { sumRows } from './sumRows.js';

const forwardKernel = defineKernel('depthwiseConv2d', import.meta.url);
const inputKernel = defineKernel('depthwiseConv2dBackwardInput', import.meta.url);
const filterKernel = defineKernel('depthwiseConv2dBackwardFilter', import.meta.url);

/** Matches the kernels: workgroups of 64 invocations, each TILE_W = 4 pixels x 4 channels (forward, dx). */
const workgroupSize = 64;
const tileW = 4;
/**
 * dW: each invocation sums one tap x 4 channels over a chunk of output pixels. About this many pixels per
 * chunk keeps each invocation's loop long enough to amortise its setup while leaving enough invocations
 * (taps x channel groups x chunks) for the device on every benchmark shape. On lavapipe, 64 to 4096 measured
 * the same within noise on the MobileNetV2 shapes.
 */
const pixelsPerChunk = 256;

export interface DepthwiseConv2dOptions {
  /** One number for both axes, or [strideH, strideW]. Default 1. */
  stride?: number | readonly [number, number];
  /** 'valid' (default), 'same' (TensorFlow's: the odd pixel goes bottom/right), a number, or [top, bottom, left, right]. */
  padding?: Padding;
  bias?: GpuTensor;
  /**
   * [2, c] f32, row 0 scale, row 1 shift (what `batchNormScaleShift(...).scaleShift` returns): a frozen batch
   * norm fused into the epilogue, y = act(fma(acc, scale[c], shift[c])), bit-identical to depthwise followed by
   * batchNormApply. Not together with `bias`.
   */
  scaleShift?: GpuTensor;
  activation?: Activation;
}

/** Geometry shared by the three kernels, with the uniform names of the WGSL. */
interface DepthwiseGeometry {
  n: number;
  h: number;
  w: number;
  c: number;
  h_out: number;
  w_out: number;
  k_h: number;
  k_w: number;
  stride_h: number;
  stride_w: number;
  pad_top: number;
  pad_left: number;
}

function geometry(kernel: string, x: { shape: Shape }, weight: { shape: Shape }, options: DepthwiseConv2dOptions): DepthwiseGeometry {
  expectRank(kernel, 'x', x, 4, 'NHWC [n, h, w, c]');
  expectRank(kernel, 'weight', weight, 3, '[k_h, k_w, c]');
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [k_h, k_w] = weight.shape as [number, number, number];
  expectShape(kernel, 'weight', weight, [k_h, k_w, c], `c = ${c} from x`);
  const [stride_h, stride_w] = pairOf(kernel, 'stride', options.stride ?? 1);
  const pad = resolvePadding(kernel, options.padding, h, w, { kH: k_h, kW: k_w, strideH: stride_h, strideW: stride_w, dilationH: 1, dilationW: 1 });
  const h_out = convOutputSize(h, pad.top, pad.bottom, k_h, stride_h);
  const w_out = convOutputSize(w, pad.left, pad.right, k_w, stride_w);
  if (h_out < 1 || w_out < 1) {
    throw new KernelArgumentError(kernel, 'weight', `a ${k_h}x${k_w} window that fits the padded ${h}x${w} input`, `output ${h_out}x${w_out}`);
  }
  return { n, h, w, c, h_out, w_out, k_h, k_w, stride_h, stride_w, pad_top: pad.top, pad_left: pad.left };
}

/** Output shape [n, h_out, w_out, c] for these arguments (validates them like the launcher). */
export function depthwiseConv2dOutputShape(xShape: Shape, weightShape: Shape, options: DepthwiseConv2dOptions = {}): Shape {
  const g = geometry('depthwiseConv2d', { shape: xShape }, { shape: weightShape }, options);
  return [g.n, g.h_out, g.w_out, g.c];
}

/** Computes into `out` when given (shape [n, h_out, w_out, c]); otherwise allocates it. */
export function depthwiseConv2d(gpu: Gpu, x: GpuTensor, weight: GpuTensor, options: DepthwiseConv2dOptions = {}, out?: GpuTensor): GpuTensor {
  const g = geometry('depthwiseConv2d', x, weight, options);
  expectDType('depthwiseConv2d', 'x', x, 'f32');
  expectDType('depthwiseConv2d', 'weight', weight, 'f32');
  const activation = activationCode('depthwiseConv2d', options.activation);
  if (options.bias) {
    expectShape('depthwiseConv2d', 'bias', options.bias, [g.c], 'one per channel');
    expectDType('depthwiseConv2d', 'bias', options.bias, 'f32');
  }
  if (options.scaleShift) {
    if (options.bias) {
      throw new KernelArgumentError('depthwiseConv2d', 'scaleShift', 'no bias beside it (fold the bias into shift)', 'both bias and scaleShift');
    }
    expectShape('depthwiseConv2d', 'scaleShift', options.scaleShift, [2, g.c], 'scale row, shift row');
    expectDType('depthwiseConv2d', 'scaleShift', options.scaleShift, 'f32');
  }
  const outShape = [g.n, g.h_out, g.w_out, g.c];
  if (out) {
    expectShape('depthwiseConv2d', 'out', out, outShape);
    expectDType('depthwiseConv2d', 'out', out, 'f32');
  }
  const y = out ?? gpu.allocate(outShape);
  const invocations = g.n * g.h_out * groupsFor(g.w_out, tileW) * groupsFor(g.c, 4);
  gpu.dispatch(forwardKernel, {
    bindings: [x, weight, options.bias ?? options.scaleShift ?? gpu.placeholder(), y],
    uniforms: { ...g, has_bias: options.bias ? 1 : 0, scale_shift: options.scaleShift ? 1 : 0, activation },
    workgroups: linearWorkgroups(gpu.limits, invocations, workgroupSize, forwardKernel.name),
    overrides: { row_k3: g.k_w === 3 && g.stride_w === 1 ? 1 : 0 },
    // Whole vec4s of channels: one load per 4 channels (1.4-1.9x faster on lavapipe, see the kernel).
    entryPoint: g.c % 4 === 0 ? 'main_vec4' : 'main',
  });
  return y;
}

export interface DepthwiseConv2dGrads {
  dx?: GpuTensor;
  dweight?: GpuTensor;
  dbias?: GpuTensor;
}

/**
 * Gradients of y = depthwise(x, w) + bias w.r.t. x [n, h, w, c], weight [k_h, k_w, c] and bias [c], from
 * dy [n, h_out, w_out, c]. A fused activation's derivative is applied to dy beforehand. Only the requested
 * gradients are computed: a frozen weight costs nothing.
 */
export function depthwiseConv2dBackward(
  gpu: Gpu,
  dy: GpuTensor,
  x: GpuTensor,
  weight: GpuTensor,
  options: Omit<DepthwiseConv2dOptions, 'bias' | 'activation'> = {},
  wanted: { x?: boolean; weight?: boolean; bias?: boolean } = { x: true, weight: true, bias: true },
): DepthwiseConv2dGrads {
  const g = geometry('depthwiseConv2dBackward', x, weight, options);
  expectDType('depthwiseConv2dBackward', 'x', x, 'f32');
  expectDType('depthwiseConv2dBackward', 'weight', weight, 'f32');
  expectShape('depthwiseConv2dBackward', 'dy', dy, [g.n, g.h_out, g.w_out, g.c]);
  expectDType('depthwiseConv2dBackward', 'dy', dy, 'f32');
  const grads: DepthwiseConv2dGrads = {};
  const channelGroups = groupsFor(g.c, 4);
  if (wanted.x) {
    const dx = gpu.allocate([g.n, g.h, g.w, g.c]);
    gpu.dispatch(inputKernel, {
      bindings: [dy, weight, dx],
      uniforms: { ...g },
      // Tiles hold every stride_w-th pixel of one residue class (see the kernel): stride_w classes per row.
      workgroups: linearWorkgroups(gpu.limits, g.n * g.h * g.stride_w * groupsFor(groupsFor(g.w, g.stride_w), tileW) * channelGroups, workgroupSize, inputKernel.name),
    });
    grads.dx = dx;
  }
  if (wanted.weight) {
    const rows = g.n * g.h_out;
    const rowsPerChunk = Math.max(1, Math.floor(pixelsPerChunk / g.w_out));
    const chunks = groupsFor(rows, rowsPerChunk);
    const taps = g.k_h * g.k_w;
    // With one chunk the partial sums are dweight itself.
    const partial = gpu.allocate(chunks === 1 ? [g.k_h, g.k_w, g.c] : [chunks, g.k_h, g.k_w, g.c]);
    gpu.dispatch(filterKernel, {
      bindings: [x, dy, partial],
      uniforms: { ...g, rows_per_chunk: rowsPerChunk, chunks },
      workgroups: linearWorkgroups(gpu.limits, chunks * taps * channelGroups, workgroupSize, filterKernel.name),
    });
    if (chunks === 1) {
      grads.dweight = partial;
    } else {
      grads.dweight = sumRows(gpu, partial, taps * g.c).reshape([g.k_h, g.k_w, g.c]);
      gpu.release(partial);
    }
  }
  if (wanted.bias) grads.dbias = sumRows(gpu, dy, g.c);
  return grads;
}

export function depthwiseConv2dHost(
  gpu: Gpu,
  x: HostTensor,
  weight: HostTensor,
  options: Omit<DepthwiseConv2dOptions, 'bias' | 'scaleShift'> & { bias?: HostTensor; scaleShift?: HostTensor } = {},
): Promise<HostTensor> {
  return runOnHost(gpu, { x, weight, bias: options.bias, scaleShift: options.scaleShift }, (t) =>
    depthwiseConv2d(gpu, t.x, t.weight, { ...options, bias: t.bias, scaleShift: t.scaleShift }),
  );
}

export function depthwiseConv2dBackwardHost(
  gpu: Gpu,
  dy: HostTensor,
  x: HostTensor,
  weight: HostTensor,
  options: Omit<DepthwiseConv2dOptions, 'bias' | 'activation'> = {},
  wanted?: { x?: boolean; weight?: boolean; bias?: boolean },
): Promise<{ dx?: HostTensor | undefined; dweight?: HostTensor | undefined; dbias?: HostTensor | undefined }> {
  return runOnHost(gpu, { dy, x, weight }, (t) => depthwiseConv2dBackward(gpu, t.dy, t.x, t.weight, options, wanted));
}
