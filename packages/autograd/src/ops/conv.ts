/**
 * Convolutions: y = act(conv(x, weight) + bias) over NHWC activations, dense (weight HWIO
 * [k_h, k_w, c_in, c_out]) and depthwise (weight [k_h, k_w, c], channel multiplier 1). Padding may be
 * 'same' (TensorFlow's: the odd pixel goes bottom/right), resolved by the kernels from the input size.
 */
import {
  activationBackward,
  conv2d,
  conv2dBackward,
  depthwiseConv2d,
  depthwiseConv2dBackward,
  type Activation,
  type GpuTensor,
  type Padding,
} from '@graft/kernels';
import { record } from '../tape.js';
import type { Tensor } from '../tensor.js';

export interface ConvOptions {
  bias?: Tensor;
  /** One number for both axes or [strideH, strideW]; default 1. */
  stride?: number | readonly [number, number];
  /** 'valid' (default), 'same', a number, or [top, bottom, left, right]. */
  padding?: Padding;
  /** Fused after the bias; the backward reads its derivative from the output. */
  activation?: Activation;
}

export interface Conv2dOpOptions extends ConvOptions {
  /** One number for both axes or [dilationH, dilationW]; default 1. */
  dilation?: number | readonly [number, number];
}

/** Turns dy into the gradient before a fused activation (a new buffer), or returns dy itself for 'none'. */
function beforeActivation(out: Tensor, dy: GpuTensor, activation: Activation): GpuTensor {
  return activation === 'none' ? dy : activationBackward(out.gpu, dy, out.data, activation);
}

function opName(base: string, bias: Tensor | undefined, activation: Activation): string {
  return base + (bias ? '+bias' : '') + (activation === 'none' ? '' : `+${activation}`);
}

/** x [n, h, w, c_in], weight [k_h, k_w, c_in, c_out] -> [n, h_out, w_out, c_out]. */
export function conv2dOp(x: Tensor, weight: Tensor, options: Conv2dOpOptions = {}): Tensor {
  const gpu = x.gpu;
  const { bias, activation = 'none' } = options;
  const geometry = { stride: options.stride, padding: options.padding, dilation: options.dilation };
  const y = conv2d(gpu, x.data, weight.data, { ...geometry, bias: bias?.data, activation });
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const out = record(gpu, opName('conv2d', bias, activation), inputs, y, (dy, needs) => {
    const g = beforeActivation(out, dy, activation);
    const grads = conv2dBackward(gpu, g, x.data, weight.data, geometry, { x: needs[0], weight: needs[1], bias: needs[2] ?? false });
    if (g !== dy) gpu.release(g);
    return [grads.dx, grads.dweight, grads.dbias];
  });
  return out;
}

/** x [n, h, w, c], weight [k_h, k_w, c] -> [n, h_out, w_out, c]: each channel convolved with its own filter. */
export function depthwiseConv2dOp(x: Tensor, weight: Tensor, options: ConvOptions = {}): Tensor {
  const gpu = x.gpu;
  const { bias, activation = 'none' } = options;
  const geometry = { stride: options.stride, padding: options.padding };
  const y = depthwiseConv2d(gpu, x.data, weight.data, { ...geometry, bias: bias?.data, activation });
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const out = record(gpu, opName('depthwiseConv2d', bias, activation), inputs, y, (dy, needs) => {
    const g = beforeActivation(out, dy, activation);
    const grads = depthwiseConv2dBackward(gpu, g, x.data, weight.data, geometry, { x: needs[0], weight: needs[1], bias: needs[2] ?? false });
    if (g !== dy) gpu.release(g);
    return [grads.dx, grads.dweight, grads.dbias];
  });
  return out;
}
