/** Matrix products: y = act(x · opW + bias), the dense layer and the 1x1 convolution's core. */
import { activationBackward, matmul, matmulBackward, type Activation } from '@graft/kernels';
import { record } from '../tape.js';
import type { Tensor } from '../tensor.js';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: Tensor;
  activation?: Activation;
}

/**
 * C = act(opA · opB + bias). With a fused activation, the backward first turns dC into the
 * gradient before the activation (read from the output), then runs the linear backward.
 */
export function matmulOp(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const gpu = a.gpu;
  const { transA = false, transB = false, bias, activation = 'none' } = options;
  const y = matmul(gpu, a.data, b.data, { transA, transB, bias: bias?.data, activation });
  const inputs = bias ? [a, b, bias] : [a, b];
  const out = record(gpu, activation === 'none' ? 'matmul' : `matmul+${activation}`, inputs, y, (dy, needs) => {
    const preActivation = activation === 'none' ? dy : activationBackward(gpu, dy, out.data, activation);
    const g = matmulBackward(gpu, preActivation, a.data, b.data, { transA, transB }, { a: needs[0], b: needs[1], bias: needs[2] ?? false });
    if (preActivation !== dy) gpu.release(preActivation);
    return [g.da, g.db, g.dbias];
  });
  return out;
}

/** A dense layer with PyTorch's weight layout: y = act(x · Wᵀ + b), W [out, in]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor, activation: Activation = 'none'): Tensor {
  return matmulOp(x, weight, { transB: true, bias, activation });
}
