/**
 * Spatial padding for convolutions and pooling: explicit per side, TensorFlow's 'same', or 'valid'.
 *
 * TF 'same' (what Keras/TF checkpoints were trained with) makes the output ceil(in / stride) and pads
 * whatever that needs in total; when the total is odd the extra pixel goes at the bottom / right.
 * PyTorch's symmetric `padding=k//2` differs from it whenever stride > 1 and the total is odd, which
 * is why this is resolved here once, from the input size, instead of being a fixed number per layer.
 */
import { KernelArgumentError } from '../runtime/errors.js';
import { expectNonNegativeInt, expectPositiveInt } from '../runtime/validate.js';

/** A single number pads all four sides; a 4-tuple is [top, bottom, left, right]. */
export type Padding = 'same' | 'valid' | number | readonly [top: number, bottom: number, left: number, right: number];

export interface ResolvedPadding {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** Window geometry along one axis: kernel size, stride and dilation. */
export interface Window2d {
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
}

/**
 * A per-axis window parameter (stride, dilation, kernel size) given as one number for both axes or
 * as [h, w]: validated as positive integers (KernelArgumentError naming `argName`) and returned as [h, w].
 */
export function pairOf(kernel: string, argName: string, value: number | readonly [number, number]): [number, number] {
  if (typeof value !== 'number' && !(Array.isArray(value) && value.length === 2)) {
    throw new KernelArgumentError(kernel, argName, 'a positive integer or [h, w]', JSON.stringify(value));
  }
  const [h, w] = typeof value === 'number' ? [value, value] : value;
  expectPositiveInt(kernel, argName, h!);
  expectPositiveInt(kernel, argName, w!);
  return [h!, w!];
}

/** Total 'same' padding on one axis; TF gives the odd pixel to the end (bottom/right). */
export function samePadding(size: number, kernel: number, stride: number, dilation = 1): [before: number, after: number] {
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + effective - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

export function resolvePadding(kernel: string, padding: Padding | undefined, h: number, w: number, win: Window2d): ResolvedPadding {
  const value = padding ?? 'valid';
  if (value === 'valid') return { top: 0, bottom: 0, left: 0, right: 0 };
  if (value === 'same') {
    const [top, bottom] = samePadding(h, win.kH, win.strideH, win.dilationH);
    const [left, right] = samePadding(w, win.kW, win.strideW, win.dilationW);
    return { top, bottom, left, right };
  }
  if (typeof value === 'number') {
    expectNonNegativeInt(kernel, 'padding', value);
    return { top: value, bottom: value, left: value, right: value };
  }
  if (Array.isArray(value) && value.length === 4) {
    value.forEach((p) => expectNonNegativeInt(kernel, 'padding', p));
    const [top, bottom, left, right] = value as readonly number[];
    return { top: top!, bottom: bottom!, left: left!, right: right! };
  }
  throw new KernelArgumentError(kernel, 'padding', "'same', 'valid', a number or [top, bottom, left, right]", JSON.stringify(value));
}

/** Output size on one axis: floor((in + pads - effective kernel) / stride) + 1; below 1 means the window does not fit. */
export function convOutputSize(size: number, padBefore: number, padAfter: number, kernel: number, stride: number, dilation = 1): number {
  const effective = (kernel - 1) * dilation + 1;
  return Math.floor((size + padBefore + padAfter - effective) / stride) + 1;
}
