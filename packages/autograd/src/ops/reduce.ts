/** Reductions: sum and mean of every element, and per-channel sums over the leading dims. */
import { fill, meanAll, sumAll, sumRows, binary, type GpuTensor } from '@graft/kernels';
import { record } from '../tape.js';
import type { Tensor } from '../tensor.js';

/** Broadcasts a [1] gradient to `shape` times `scale`. */
function broadcastScalar(x: Tensor, dy: GpuTensor, scale: number): GpuTensor {
  const ones = fill(x.gpu, x.shape, scale);
  const g = binary(x.gpu, 'mul', ones, dy);
  x.gpu.release(ones);
  return g;
}

export function sumAllOp(x: Tensor): Tensor {
  return record(x.gpu, 'sum', [x], sumAll(x.gpu, x.data), (dy) => [broadcastScalar(x, dy, 1)]);
}

export function meanAllOp(x: Tensor): Tensor {
  return record(x.gpu, 'mean', [x], meanAll(x.gpu, x.data), (dy) => [broadcastScalar(x, dy, 1 / x.size)]);
}

/** Sum over every dim but the last: [..., c] -> [c]. */
export function sumToChannels(x: Tensor): Tensor {
  const c = x.shape[x.shape.length - 1]!;
  return record(x.gpu, 'sumToChannels', [x], sumRows(x.gpu, x.data, c), (dy) => {
    const zeros = fill(x.gpu, x.shape, 0);
    const g = binary(x.gpu, 'add', zeros, dy); // broadcast [c] over the leading dims
    x.gpu.release(zeros);
    return [g];
  });
}
