/**
 * Folding a frozen (inference-mode) batch norm into the convolution before it, on the host, once at
 * load time. See docs/kernels/batchNorm.md.
 */
import { KernelArgumentError } from '../runtime/errors.js';
import { shapeToString, type HostTensor } from '../runtime/tensor.js';
import { expectFinite } from '../runtime/validate.js';
import { batchNormDefaults } from './batchNorm.js';

export interface FoldableBatchNorm {
  gamma?: Float32Array | undefined;
  beta?: Float32Array | undefined;
  runningMean: Float32Array;
  runningVar: Float32Array;
  eps?: number;
}

/**
 * Folds a frozen (inference-mode) batch norm into the convolution before it:
 *   W'[..., o] = W[..., o] * scale[o],  b'[o] = (b[o] - runningMean[o]) * scale[o] + beta[o],
 *   scale = gamma / sqrt(runningVar + eps).
 * weights are HWIO [k_h, k_w, c_in, c_out] or depthwise [k_h, k_w, c]: in both the channel BN sees is the last axis.
 * Done once at load time, on the host, in float64.
 */
export function foldBatchNormIntoConv(weights: HostTensor, bias: HostTensor | undefined, bn: FoldableBatchNorm): { weights: HostTensor; bias: HostTensor } {
  const kernel = 'foldBatchNormIntoConv';
  if (weights.shape.length !== 4 && weights.shape.length !== 3) {
    throw new KernelArgumentError(kernel, 'weights', 'rank 4 HWIO [k_h, k_w, c_in, c_out] or rank 3 depthwise [k_h, k_w, c]', shapeToString(weights.shape));
  }
  const cOut = weights.shape[weights.shape.length - 1]!;
  const vectors = { bias: bias?.data, gamma: bn.gamma, beta: bn.beta, runningMean: bn.runningMean, runningVar: bn.runningVar };
  for (const [name, v] of Object.entries(vectors)) {
    if (v && v.length !== cOut) throw new KernelArgumentError(kernel, name, `${cOut} values (the last axis of weights)`, `${v.length}`);
  }
  if (bias && bias.shape.length !== 1) throw new KernelArgumentError(kernel, 'bias', `shape [${cOut}]`, shapeToString(bias.shape));
  const eps = bn.eps ?? batchNormDefaults.eps;
  expectFinite(kernel, 'eps', eps);
  const scale = new Float64Array(cOut);
  const foldedBias = new Float32Array(cOut);
  for (let o = 0; o < cOut; o++) {
    scale[o] = (bn.gamma ? bn.gamma[o]! : 1) / Math.sqrt(bn.runningVar[o]! + eps);
    foldedBias[o] = ((bias ? bias.data[o]! : 0) - bn.runningMean[o]!) * scale[o]! + (bn.beta ? bn.beta[o]! : 0);
  }
  const folded = new Float32Array(weights.data.length);
  for (let i = 0; i < folded.length; i++) folded[i] = weights.data[i]! * scale[i % cOut]!;
  return { weights: { data: folded, shape: weights.shape }, bias: { data: foldedBias, shape: [cOut] } };
}
