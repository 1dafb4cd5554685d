/** Pooling over NHWC activations: global average (the classifier's head) and windowed max. */
import { globalAvgPool, globalAvgPoolBackward, maxPool2dBackward, maxPool2dWithArgmax, type MaxPool2dOptions } from '@graft/kernels';
import { record } from '../tape.js';
import type { Tensor } from '../tensor.js';

/** [n, h, w, c] -> [n, c]: the mean over h and w. */
export function globalAvgPoolOp(x: Tensor): Tensor {
  const gpu = x.gpu;
  return record(gpu, 'globalAvgPool', [x], globalAvgPool(gpu, x.data), (dy) => [globalAvgPoolBackward(gpu, dy, x.shape)]);
}

/**
 * [n, h, w, c] -> [n, h_out, w_out, c]: the max over each window. The forward keeps each output's
 * winning cell (argmax, u32) for the backward; it is a saved buffer, freed with the graph, and
 * dropped at once when nothing requires grad.
 */
export function maxPool2dOp(x: Tensor, options: MaxPool2dOptions): Tensor {
  const gpu = x.gpu;
  const { y, argmax } = maxPool2dWithArgmax(gpu, x.data, options);
  return record(gpu, 'maxPool2d', [x], y, (dy) => [maxPool2dBackward(gpu, dy, argmax, x.shape, options)], [argmax]);
}
