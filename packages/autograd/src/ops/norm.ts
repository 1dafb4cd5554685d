/**
 * Batch normalization over NHWC activations with a fused relu/relu6, in three modes:
 *
 * - 'train': batch statistics; runningMean/runningVar updated in place on the GPU (PyTorch's
 *   convention: running = (1 - momentum) · running + momentum · batch, unbiased variance); the
 *   backward flows through the batch statistics and gives dx, dgamma, dbeta.
 * - 'frozen': running statistics, not updated; the layer is a fixed affine map (Keras'
 *   `trainable = False`): only x is an input of the graph, so gamma and beta never get a gradient
 *   even when they require grad, and dx = act'(y) · gamma · invstd · dy when x requires grad.
 * - 'affine': running statistics, not updated, but gamma and beta do train (fastai's frozen-BN
 *   fine-tuning); dx flows through the frozen statistics as in 'frozen'.
 *
 * See docs/kernels/batchNorm.md for the kernels and the epsilon/momentum conventions (kerasMomentum).
 */
import {
  activationBackward,
  batchNormBackward,
  batchNormInference,
  batchNormTraining,
  unary,
  type Activation,
  type GpuTensor,
} from '@graft/kernels';
import { AutogradError } from '../errors.js';
import { isGradEnabled, record } from '../tape.js';
import type { Tensor } from '../tensor.js';

export type BatchNormMode = 'train' | 'frozen' | 'affine';
export const batchNormModes: readonly BatchNormMode[] = ['train', 'frozen', 'affine'];

export interface BatchNormTensors {
  gamma: Tensor;
  beta: Tensor;
  /** Updated in place in 'train' mode; never part of the graph. */
  runningMean: Tensor;
  runningVar: Tensor;
}

export interface BatchNormOpOptions {
  mode: BatchNormMode;
  /** PyTorch convention, default 0.1 (Keras' 0.99 is 0.01: see kerasMomentum). Used by 'train' only. */
  momentum?: number;
  /** Default 1e-5 (PyTorch); Keras uses 1e-3. */
  eps?: number;
  /** Unbiased batch variance into runningVar (PyTorch, default); Keras: false. */
  unbiasedRunningVar?: boolean;
  activation?: Activation;
}

export function batchNorm(x: Tensor, params: BatchNormTensors, options: BatchNormOpOptions): Tensor {
  const { mode, activation = 'none' } = options;
  if (!batchNormModes.includes(mode)) {
    throw new AutogradError(`batchNorm: mode must be one of ${batchNormModes.map((m) => `'${m}'`).join(', ')}, got ${JSON.stringify(mode)}`);
  }
  const gpu = x.gpu;
  const { gamma, beta, runningMean, runningVar } = params;
  const kernelParams = { gamma: gamma.data, beta: beta.data, runningMean: runningMean.data, runningVar: runningVar.data };
  const op = activation === 'none' ? `batchNorm(${mode})` : `batchNorm(${mode})+${activation}`;
  // Only 'frozen' leaves gamma and beta out of the graph: that is what keeps them from training.
  const inputs = mode === 'frozen' ? [x] : [x, gamma, beta];

  /** dy before the fused activation, read from the output (a new buffer, or dy itself without one). */
  const preActivation = (dy: GpuTensor, y: GpuTensor) => (activation === 'none' ? dy : activationBackward(gpu, dy, y, activation));

  if (mode === 'train') {
    const { y, mean, invstd } = batchNormTraining(gpu, x.data, kernelParams, {
      eps: options.eps,
      momentum: options.momentum,
      unbiasedRunningVar: options.unbiasedRunningVar,
      activation,
    });
    const out = record(
      gpu,
      op,
      inputs,
      y,
      (dy, needs) => {
        const g = preActivation(dy, out.data);
        const grads = batchNormBackward(gpu, g, x.data, { mean, invstd, gamma: gamma.data }, true, { x: needs[0], gamma: needs[1], beta: needs[2] });
        if (g !== dy) gpu.release(g);
        return [grads.dx, grads.dgamma, grads.dbeta];
      },
      [mean, invstd],
    );
    return out;
  }

  const { y, invstd } = batchNormInference(gpu, x.data, kernelParams, { eps: options.eps, activation });
  // The backward normalizes with the statistics of the forward: snapshot runningMean in case a
  // 'train' call on the same layer updates it before this graph's backward. Skipped when no
  // backward will be recorded (inference costs no extra pass).
  const saved = isGradEnabled() && inputs.some((t) => t.requiresGrad) ? [invstd, unary(gpu, 'copy', runningMean.data)] : [invstd];
  const out = record(
    gpu,
    op,
    inputs,
    y,
    (dy, needs) => {
      const g = preActivation(dy, out.data);
      const wanted = { x: needs[0], gamma: needs[1] ?? false, beta: needs[2] ?? false };
      const grads = batchNormBackward(gpu, g, x.data, { mean: saved[1]!, invstd, gamma: gamma.data }, false, wanted);
      if (g !== dy) gpu.release(g);
      return mode === 'frozen' ? [grads.dx] : [grads.dx, grads.dgamma, grads.dbeta];
    },
    saved,
  );
  return out;
}
