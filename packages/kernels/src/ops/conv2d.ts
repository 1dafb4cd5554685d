/**
 * conv2d (groups = 1) launchers: forward with fused bias + activation, and its backward (dx, dweight,
 * dbias). Kernels: conv2d.wgsl, conv2dBackwardInput.wgsl, conv2dBackwardFilter.wgsl.
 */
import { KernelArgumentError } from '../runtime/errors.js';
import type { Gpu } from '../runtime/gpu.js';
import { runOnHost } from '../runtime/host.js';
import { defineKernel } from '../runtime/kernel.js';
import type { GpuTensor, HostTensor, Shape } from '../runtime/tensor.js';
import { activationCode, expectDType, expectRank, expectShape, groupsFor, type Activation } from '../runtime/validate.js';
import type { Conv2dGeometry } from './conv2d.ref.js';
import { matmul } from './matmul.js';
import { convOutputSize, pairOf, resolvePadding, type Padding } from './padding.js';
import { sumRows } from './sumRows.js';

const forwardKernel = defineKernel('conv2d', import.meta.url);
const inputGradKernel = defineKernel('conv2dBackwardInput', import.meta.url);
const filterGradKernel = defineKernel('conv2dBackwardFilter', import.meta.url);

// The backward kernels: workgroups of 64 invocations, each computing an 8 x 8 register block
// (8 channels x 8 pixels, or 8 c_in x 8 c_out for dweight); see the .wgsl headers.
const tile = 8;
const groupSize = 64;
/** Forward (conv2d.wgsl): 16 output pixels per workgroup, 8 output channels per invocation ... */
const forwardPixels = 16;
/** ... or 16 (main_vec4_wide) when c_out is a multiple of 4 and at least 128: 8 lanes of 16 channels. */
const forwardWideChannels = 16;
const forwardWideMinChannels = 128;
/** dweight: enough (block, chunk) invocations to keep every core's SIMD lanes busy, ... */
const filterTargetInvocations = 8192;
/** ... but no chunk shorter than this many output rows' worth of pixels, so partial sums stay small. */
const filterMinPixelsPerChunk = 512;

export interface Conv2dOptions {
  /** [strideH, strideW] or one number for both; default 1. */
  stride?: number | readonly [number, number];
  /** [dilationH, dilationW] or one number for both; default 1. */
  dilation?: number | readonly [number, number];
  /** Default 'valid'. 'same' follows TensorFlow (extra pixel at bottom/right). */
  padding?: Padding;
}

export interface Conv2dForwardOptions extends Conv2dOptions {
  bias?: GpuTensor;
  /**
   * [2, c_out] scale row and shift row applied as fma(sum, scale, shift) before the activation: a
   * frozen batch norm fused into the convolution (batchNormScaleShift gives it). Bit-identical to
   * conv2d then batchNormApply. Not together with bias.
   */
  scaleShift?: GpuTensor;
  activation?: Activation;
}

/** Validates x [n, h, w, c_in] and weight [k_h, k_w, c_in, c_out] and resolves every size. */
export function conv2dGeometry(kernel: string, xShape: Shape, weightShape: Shape, options: Conv2dOptions): Conv2dGeometry & { padBottom: number; padRight: number } {
  expectRank(kernel, 'x', { shape: xShape }, 4, 'NHWC [n, h, w, c_in]');
  expectRank(kernel, 'weight', { shape: weightShape }, 4, 'HWIO [k_h, k_w, c_in, c_out]');
  const [n, h, w, cIn] = xShape as [number, number, number, number];
  const [kH, kW, , cOut] = weightShape as [number, number, number, number];
  expectShape(kernel, 'weight', { shape: weightShape }, [-1, -1, cIn, -1], `c_in = ${cIn} from x`);
  const [strideH, strideW] = pairOf(kernel, 'stride', options.stride ?? 1);
  const [dilationH, dilationW] = pairOf(kernel, 'dilation', options.dilation ?? 1);
  const window = { kH, kW, strideH, strideW, dilationH, dilationW };
  const pad = resolvePadding(kernel, options.padding, h, w, window);
  const hOut = convOutputSize(h, pad.top, pad.bottom, kH, strideH, dilationH);
  const wOut = convOutputSize(w, pad.left, pad.right, kW, strideW, dilationW);
  if (hOut < 1 || wOut < 1) {
    const padded = `${h + pad.top + pad.bottom}x${w + pad.left + pad.right}`;
    throw new KernelArgumentError(kernel, 'weight', `a kernel (with dilation) no larger than the padded input ${padded}`, `${kH}x${kW} dilation ${dilationH}x${dilationW}`);
  }
  return {
    n, h, w, cIn, hOut, wOut, cOut, kH, kW, strideH, strideW, dilationH, dilationW,
    padTop: pad.top, padLeft: pad.left, padBottom: pad.bottom, padRight: pad.right,
  };
}

/** The shared uniform fields, named as in the kernels' Params structs. */
function geometryUniforms(g: Conv2dGeometry): Record<string, number> {
  return {
    n: g.n, h: g.h, w: g.w, c_in: g.cIn, h_out: g.hOut, w_out: g.wOut, c_out: g.cOut, k_h: g.kH, k_w: g.kW,
    stride_h: g.strideH, stride_w: g.strideW, dilation_h: g.dilationH, dilation_w: g.dilationW,
    pad_top: g.padTop, pad_left: g.padLeft,
  };
}

/** dx: channel blocks side by side in a workgroup, the largest power of two <= min(8, blocks) (see conv2dBackwardInput.wgsl). */
function channelLanes(blocks: number): number {
  return blocks >= 8 ? 8 : blocks >= 4 ? 4 : blocks >= 2 ? 2 : 1;
}

/** Forward: one invocation per channel block, up to 32 per workgroup (powers of two; see conv2d.wgsl). */
function forwardWorkgroupSize(blocks: number): number {
  let size = 1;
  while (size < blocks && size < 32) size *= 2;
  return size;
}

/** A 1x1, stride-1, unpadded convolution is the matmul [n*h*w, c_in] x [c_in, c_out]. */
function isPointwise(g: Conv2dGeometry & { padBottom: number; padRight: number }): boolean {
  return g.kH === 1 && g.kW === 1 && g.strideH === 1 && g.strideW === 1 && g.padTop + g.padBottom + g.padLeft + g.padRight === 0;
}

/** y = act(conv2d(x, weight) + bias), NHWC out [n, h_out, w_out, c_out]. */
export function conv2d(gpu: Gpu, x: GpuTensor, weight: GpuTensor, options: Conv2dForwardOptions = {}): GpuTensor {
  const g = conv2dGeometry('conv2d', x.shape, weight.shape, options);
  for (const [name, t] of [['x', x], ['weight', weight], ['bias', options.bias]] as const) if (t) expectDType('conv2d', name, t, 'f32');
  const activation = activationCode('conv2d', options.activation);
  if (options.bias) expectShape('conv2d', 'bias', options.bias, [g.cOut], 'one per output channel');
  if (options.scaleShift) {
    if (options.bias) throw new KernelArgumentError('conv2d', 'scaleShift', 'no bias beside it (fold the bias into the shift)', 'a bias too');
    expectShape('conv2d', 'scaleShift', options.scaleShift, [2, g.cOut], 'scale row, shift row, one per output channel');
    expectDType('conv2d', 'scaleShift', options.scaleShift, 'f32');
  }
  const outShape = [g.n, g.hOut, g.wOut, g.cOut];
  if (isPointwise(g)) {
    const y = matmul(gpu, x.reshape([g.n * g.h * g.w, g.cIn]), weight.reshape([g.cIn, g.cOut]), { bias: options.bias, scaleShift: options.scaleShift, activation: options.activation });
    return y.reshape(outShape);
  }
  const y = gpu.allocate(outShape);
  // Invocations along channel blocks; blocks of forwardPixels flattened output pixels along the grid's
  // y, continuing in z past the per-dimension limit. Entry point and channel block: see conv2d.wgsl.
  const vec4Weights = g.cOut % 4 === 0;
  const wide = vec4Weights && g.cOut >= forwardWideMinChannels;
  const channelBlocks = groupsFor(g.cOut, wide ? forwardWideChannels : tile);
  const wgSize = forwardWorkgroupSize(channelBlocks);
  const pixelBlocks = groupsFor(g.n * g.hOut * g.wOut, forwardPixels);
  const layers = groupsFor(pixelBlocks, gpu.limits.maxComputeWorkgroupsPerDimension);
  gpu.dispatch(forwardKernel, {
    bindings: [x, weight, options.scaleShift ?? options.bias ?? gpu.placeholder(), y],
    uniforms: { ...geometryUniforms(g), has_bias: options.bias ? 1 : 0, scale_shift: options.scaleShift ? 1 : 0, activation },
    workgroups: [groupsFor(channelBlocks, wgSize), groupsFor(pixelBlocks, layers), layers],
    entryPoint: wide ? 'main_vec4_wide' : vec4Weights ? 'main_vec4' : 'main',
    overrides: { wg_size: wgSize },
  });
  return y;
}

export interface Conv2dGrads {
  dx?: GpuTensor;
  dweight?: GpuTensor;
  dbias?: GpuTensor;
}

/**
 * Gradients of y = conv2d(x, weight) + bias w.r.t. x, weight and bias, from dy [n, h_out, w_out, c_out].
 * A fused activation's derivative is applied to dy beforehand (activationBackward), not here.
 * Only the requested gradients are computed.
 */
export function conv2dBackward(
  gpu: Gpu,
  dy: GpuTensor,
  x: GpuTensor,
  weight: GpuTensor,
  options: Conv2dOptions = {},
  wanted: { x?: boolean; weight?: boolean; bias?: boolean } = { x: true, weight: true, bias: true },
): Conv2dGrads {
  const g = conv2dGeometry('conv2dBackward', x.shape, weight.shape, options);
  expectShape('conv2dBackward', 'dy', dy, [g.n, g.hOut, g.wOut, g.cOut], 'the forward output shape');
  for (const [name, t] of [['dy', dy], ['x', x], ['weight', weight]] as const) expectDType('conv2dBackward', name, t, 'f32');
  const grads: Conv2dGrads = {};
  if (wanted.x) grads.dx = conv2dBackwardInput(gpu, dy, weight, g);
  if (wanted.weight) grads.dweight = conv2dBackwardFilter(gpu, dy, x, g);
  if (wanted.bias) grads.dbias = sumRows(gpu, dy, g.cOut);
  return grads;
}

function conv2dBackwardInput(gpu: Gpu, dy: GpuTensor, weight: GpuTensor, g: Conv2dGeometry & { padBottom: number; padRight: number }): GpuTensor {
  const xShape = [g.n, g.h, g.w, g.cIn];
  if (isPointwise(g)) {
    // dx[n*h*w, c_in] = dy[n*h*w, c_out] . weight[c_in, c_out]^T
    const dx = matmul(gpu, dy.reshape([g.n * g.h * g.w, g.cOut]), weight.reshape([g.cIn, g.cOut]), { transB: true });
    return dx.reshape(xShape);
  }
  const dx = gpu.allocate(xShape);
  // Each span of stride_w * 8 columns is covered by stride_w invocations (one per phase).
  const xBlocks = groupsFor(g.w, g.strideW * tile) * g.strideW;
  const channelBlocks = groupsFor(g.cIn, tile);
  const lanes = channelLanes(channelBlocks);
  gpu.dispatch(inputGradKernel, {
    bindings: [dy, weight, dx],
    uniforms: geometryUniforms(g),
    workgroups: [groupsFor(channelBlocks, lanes), groupsFor(g.n * g.h * xBlocks, groupSize / lanes)],
    overrides: { ci_lanes: lanes },
  });
  return dx;
}

/** Above this c_out a 1x1 stride-1 conv's weight gradient is a matmul (see conv2dBackwardFilter). */
const pointwiseFilterMatmulMinChannels = 32;

function conv2dBackwardFilter(gpu: Gpu, dy: GpuTensor, x: GpuTensor, g: Conv2dGeometry & { padBottom: number; padRight: number }): GpuTensor {
  const weightShape = [g.kH, g.kW, g.cIn, g.cOut];
  if (isPointwise(g) && g.cOut > pointwiseFilterMatmulMinChannels) {
    // dweight[c_in, c_out] = x[n*h*w, c_in]^T . dy[n*h*w, c_out]: the matmul kernel is 1.4-2.9x the
    // filter kernel here (MobileNetV2/ResNet 1x1 layers, b8), but 0.8x with c_out <= 32 (measured).
    const rows = g.n * g.h * g.w;
    return matmul(gpu, x.reshape([rows, g.cIn]), dy.reshape([rows, g.cOut]), { transA: true }).reshape(weightShape);
  }
  const weightSize = g.kH * g.kW * g.cIn * g.cOut;
  const rows = g.n * g.hOut;
  const blocks = g.kH * g.kW * groupsFor(g.cIn, tile) * groupsFor(g.cOut, tile);
  const maxChunks = Math.max(1, Math.floor((rows * g.wOut) / filterMinPixelsPerChunk));
  const wantChunks = Math.min(rows, maxChunks, Math.max(1, Math.ceil(filterTargetInvocations / blocks)));
  const rowsPerChunk = Math.ceil(rows / wantChunks);
  const chunks = Math.ceil(rows / rowsPerChunk);
  const partial = gpu.allocate(chunks === 1 ? weightShape : [chunks, weightSize]);
  gpu.dispatch(filterGradKernel, {
    bindings: [x, dy, partial],
    uniforms: { ...geometryUniforms(g), rows_per_chunk: rowsPerChunk, chunks },
    workgroups: [groupsFor(blocks * chunks, groupSize)],
  });
  if (chunks === 1) return partial;
  const dweight = sumRows(gpu, partial, weightSize).reshape(weightShape);
  gpu.release(partial);
  return dweight;
}

export function conv2dHost(
  gpu: Gpu,
  x: HostTensor,
  weight: HostTensor,
  options: Omit<Conv2dForwardOptions, 'bias' | 'scaleShift'> & { bias?: HostTensor; scaleShift?: HostTensor } = {},
): Promise<HostTensor> {
  return runOnHost(gpu, { x, weight, bias: options.bias, scaleShift: options.scaleShift }, (t) => conv2d(gpu, t.x, t.weight, { ...options, bias: t.bias, scaleShift: t.scaleShift }));
}

export function conv2dBackwardHost(
  gpu: Gpu,
  dy: HostTensor,
  x: HostTensor,
  weight: HostTensor,
  options: Conv2dOptions = {},
  wanted?: { x?: boolean; weight?: boolean; bias?: boolean },
): Promise<{ dx?: HostTensor | undefined; dweight?: HostTensor | undefined; dbias?: HostTensor | undefined }> {
  return runOnHost(gpu, { dy, x, weight }, (t) => conv2dBackward(gpu, t.dy, t.x, t.weight, options, wanted));
}
