/**
 * 2-D max pooling over NHWC with explicit or TF-'same' padding, and its backward through saved
 * argmax indices. See maxPool2d.wgsl, maxPool2dBackward.wgsl and docs/kernels/pooling.md.
 */
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { runOnHost } from '../runtime/host.js';
import { defineKernel } from '../runtime/kernel.js';
import { shapeToString, type GpuTensor, type HostTensor, type Shape } from '../runtime/tensor.js';
import { expectDType, expectRank, expectShape, groupsFor } from '../runtime/validate.js';
import { linearWorkgroups } from '../runtime/workgroups.js';
import { convOutputSize, pairOf, resolvePadding, type Padding } from './padding.js';

const forwardKernel = defineKernel('maxPool2d', import.meta.url);
const backwardKernel = defineKernel('maxPool2dBackward', import.meta.url);
const channelsPerInvocation = 4; // CHANNELS_PER_INVOCATION in both kernels
const workgroupSize = 64; // WORKGROUP_SIZE in both kernels
const outBlock = 2; // OUT_BLOCK in maxPool2d.wgsl: each forward invocation computes 2 x 2 output pixels
const inBlock = 2; // IN_BLOCK in maxPool2dBackward.wgsl: each backward invocation computes 2 x 2 input pixels

export interface MaxPool2dOptions {
  /** Window size: one number for k x k, or [k_h, k_w]. */
  kernelSize: number | readonly [number, number];
  /** Defaults to the window size (non-overlapping windows), as in PyTorch. */
  stride?: number | readonly [number, number];
  /** 'valid' (default), 'same' (TF: extra pixel bottom/right), a number, or [top, bottom, left, right]. */
  padding?: Padding;
}

/** Everything the kernels need, resolved and validated once. */
export interface MaxPool2dGeometry {
  n: number;
  h: number;
  w: number;
  c: number;
  out_h: number;
  out_w: number;
  k_h: number;
  k_w: number;
  stride_h: number;
  stride_w: number;
  pad_top: number;
  pad_left: number;
}

/**
 * Validates x's shape and the options. Every pad must be smaller than the window along its axis,
 * so each window holds at least one real cell (PyTorch is stricter: pad <= k / 2, symmetric);
 * TF 'same' always satisfies it.
 */
export function maxPool2dGeometry(kernel: string, xShape: Shape, options: MaxPool2dOptions): MaxPool2dGeometry {
  if (xShape.length !== 4) throw new KernelArgumentError(kernel, 'x', 'rank 4 (NHWC [n, h, w, c])', `rank ${xShape.length} ${shapeToString(xShape)}`);
  const [n, h, w, c] = xShape as [number, number, number, number];
  const [k_h, k_w] = pairOf(kernel, 'kernelSize', options.kernelSize);
  const [stride_h, stride_w] = pairOf(kernel, 'stride', options.stride ?? options.kernelSize);
  const pad = resolvePadding(kernel, options.padding, h, w, { kH: k_h, kW: k_w, strideH: stride_h, strideW: stride_w, dilationH: 1, dilationW: 1 });
  if (pad.top >= k_h || pad.bottom >= k_h || pad.left >= k_w || pad.right >= k_w) {
    throw new KernelArgumentError(
      kernel,
      'padding',
      `each pad smaller than the window (k_h = ${k_h}, k_w = ${k_w}), so no window is all padding`,
      `[top ${pad.top}, bottom ${pad.bottom}, left ${pad.left}, right ${pad.right}]`,
    );
  }
  const out_h = convOutputSize(h, pad.top, pad.bottom, k_h, stride_h);
  const out_w = convOutputSize(w, pad.left, pad.right, k_w, stride_w);
  if (out_h < 1 || out_w < 1) {
    throw new KernelArgumentError(kernel, 'x', `h, w large enough for a ${k_h}x${k_w} window with this padding`, shapeToString(xShape));
  }
  return { n, h, w, c, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_top: pad.top, pad_left: pad.left };
}

function forward(gpu: Gpu, x: GpuTensor, options: MaxPool2dOptions, saveArgmax: boolean): { y: GpuTensor; argmax?: GpuTensor } {
  expectRank('maxPool2d', 'x', x, 4, 'NHWC [n, h, w, c]');
  expectDType('maxPool2d', 'x', x, 'f32');
  const g = maxPool2dGeometry('maxPool2d', x.shape, options);
  const outShape = [g.n, g.out_h, g.out_w, g.c];
  const y = gpu.allocate(outShape);
  const argmax = saveArgmax ? gpu.allocate(outShape, 'u32') : undefined;
  gpu.dispatch(forwardKernel, {
    bindings: [x, y, argmax ?? gpu.placeholder()],
    uniforms: { ...g, save_argmax: saveArgmax ? 1 : 0 },
    workgroups: linearWorkgroups(gpu.limits, g.n * groupsFor(g.out_h, outBlock) * groupsFor(g.out_w, outBlock) * groupsFor(g.c, channelsPerInvocation), workgroupSize, forwardKernel.name),
  });
  return argmax ? { y, argmax } : { y };
}

/** y = max over each window; for inference (no indices kept). */
export function maxPool2d(gpu: Gpu, x: GpuTensor, options: MaxPool2dOptions): GpuTensor {
  return forward(gpu, x, options, false).y;
}

/** y plus, per output element, the winning cell's window index ky * k_w + kx (u32) for the backward. */
export function maxPool2dWithArgmax(gpu: Gpu, x: GpuTensor, options: MaxPool2dOptions): { y: GpuTensor; argmax: GpuTensor } {
  const { y, argmax } = forward(gpu, x, options, true);
  return { y, argmax: argmax! };
}

/** dx: each dy goes to its window's first maximum; overlapping windows add up. */
export function maxPool2dBackward(gpu: Gpu, dy: GpuTensor, argmax: GpuTensor, xShape: Shape, options: MaxPool2dOptions): GpuTensor {
  const g = maxPool2dGeometry('maxPool2dBackward', xShape, options);
  const outShape = [g.n, g.out_h, g.out_w, g.c];
  expectShape('maxPool2dBackward', 'dy', dy, outShape, 'the forward output shape');
  expectDType('maxPool2dBackward', 'dy', dy, 'f32');
  expectShape('maxPool2dBackward', 'argmax', argmax, outShape, 'the forward output shape');
  expectDType('maxPool2dBackward', 'argmax', argmax, 'u32');
  const dx = gpu.allocate(xShape);
  gpu.dispatch(backwardKernel, {
    bindings: [dy, argmax, dx],
    uniforms: { ...g },
    workgroups: linearWorkgroups(gpu.limits, g.n * groupsFor(g.h, inBlock) * groupsFor(g.w, inBlock) * groupsFor(g.c, channelsPerInvocation), workgroupSize, backwardKernel.name),
  });
  return dx;
}

export function maxPool2dHost(gpu: Gpu, x: HostTensor, options: MaxPool2dOptions): Promise<HostTensor> {
  return runOnHost(gpu, { x }, (t) => maxPool2d(gpu, t.x, options));
}

/** Forward with indices, then backward from dy, on the GPU; argmax stays on the device. */
export async function maxPool2dForwardBackwardHost(
  gpu: Gpu,
  x: HostTensor,
  dy: HostTensor,
  options: MaxPool2dOptions,
): Promise<{ y: HostTensor; argmax: Uint32Array; dx: HostTensor }> {
  const xs = gpu.upload(x.data, x.shape);
  const dys = gpu.upload(dy.data, dy.shape);
  const { y, argmax } = maxPool2dWithArgmax(gpu, xs, options);
  const dx = maxPool2dBackward(gpu, dys, argmax, x.shape, options);
  try {
    return {
      y: { data: await gpu.read(y), shape: y.shape },
      argmax: await gpu.readUint32(argmax),
      dx: { data: await gpu.read(dx), shape: dx.shape },
    };
  } finally {
    gpu.release(xs, dys, y, argmax, dx);
  }
}
