/** Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_), on the GPU with no readback. */
import { activation, binary, fill, sumAll, unary } from '@graft/kernels';
import { AutogradError } from '../errors.js';
import { Tensor } from '../tensor.js';

/**
 * Scales every gradient in place by min(1, maxNorm / (norm + 1e-6)), norm being the L2 norm of all
 * gradients together, and returns that norm as a [1] tensor (the caller owns it; reading it is the
 * caller's choice). The gradients are gathered into one flat buffer with buffer copies, so the norm
 * costs one square and one sum however many tensors there are; the scaled values are copied back.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): Tensor {
  const list = [...params];
  const grads = list.flatMap((p) => (p.grad && !p.grad.released ? [p.grad.data] : []));
  const first = list[0];
  if (grads.length === 0) {
    if (!first) throw new AutogradError('clipGradNorm: no parameters');
    return new Tensor(first.gpu, fill(first.gpu, [1], 0), false, null, 'gradient norm');
  }
  const gpu = first!.gpu;
  const total = grads.reduce((n, g) => n + g.size, 0);
  const flat = gpu.allocate([total]);
  const encoder = gpu.commandEncoder();
  let offset = 0;
  for (const g of grads) {
    encoder.copyBufferToBuffer(g.buffer, g.byteOffset, flat.buffer, offset, g.byteLength);
    offset += g.byteLength;
  }
  const squares = unary(gpu, 'square', flat);
  const sumOfSquares = sumAll(gpu, squares);
  const norm = unary(gpu, 'sqrt', sumOfSquares);
  // coef = min(1, maxNorm / (norm + 1e-6)), written as 1 - relu(1 - ratio) with the kernels at hand.
  const denominator = unary(gpu, 'affine', norm, 1, 1e-6);
  const limit = fill(gpu, [1], maxNorm);
  const ratio = binary(gpu, 'div', limit, denominator);
  const excess = unary(gpu, 'affine', ratio, -1, 1);
  const shortfall = activation(gpu, excess, 'relu');
  const coef = unary(gpu, 'affine', shortfall, -1, 1);
  const scaled = binary(gpu, 'mul', flat, coef);
  offset = 0;
  for (const g of grads) {
    encoder.copyBufferToBuffer(scaled.buffer, scaled.byteOffset + offset, g.buffer, g.byteOffset, g.byteLength);
    offset += g.byteLength;
  }
  gpu.release(flat, squares, sumOfSquares, denominator, limit, ratio, excess, shortfall, coef, scaled);
  return new Tensor(gpu, norm, false, null, 'gradient norm');
}
