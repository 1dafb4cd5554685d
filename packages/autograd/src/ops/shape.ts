/**
 * Shape changes. The output is a copy, not a view: every tensor owns its buffer, so freeing a graph
 * never releases storage twice. (Only small tensors are reshaped: heads, flattened pooled features.)
 */
import { sizeOf, shapeToString, unary, type Shape } from '@graft/kernels';
import { AutogradError } from '../errors.js';
import { record } from '../tape.js';
import type { Tensor } from '../tensor.js';

export function reshape(x: Tensor, shape: Shape): Tensor {
  if (sizeOf(shape) !== x.size) {
    throw new AutogradError(`reshape: cannot view ${x.describe()} of shape ${shapeToString(x.shape)} as ${shapeToString(shape)}`);
  }
  const gpu = x.gpu;
  const y = unary(gpu, 'copy', x.data).reshape(shape);
  return record(gpu, 'reshape', [x], y, (dy) => [unary(gpu, 'copy', dy).reshape(x.shape)]);
}

/** [n, ...] -> [n, prod(...)]. */
export function flatten(x: Tensor): Tensor {
  const [n, ...rest] = x.shape;
  return reshape(x, [n!, sizeOf(rest)]);
}
