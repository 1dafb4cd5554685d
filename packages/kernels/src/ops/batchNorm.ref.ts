/**
 * Plain-loop references for batch normalization over NHWC (statistics per channel, over N*H*W),
 * written from the math, not from the kernels. Everything is computed in float64.
 */
import type { Activation } from '../runtime/validate.js';
import { applyActivationRef } from './matmul.ref.js';

export interface BatchNormRefDims {
  /** N * H * W: the values each channel's statistics are taken over. */
  count: number;
  c: number;
}

/** Per-channel batch mean and biased variance, two passes: the mean first, then squared deviations from it. */
export function batchNormStatsRef(x: ArrayLike<number>, { count, c }: BatchNormRefDims): { mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let r = 0; r < count; r++) for (let ch = 0; ch < c; ch++) mean[ch] += x[r * c + ch]!;
  for (let ch = 0; ch < c; ch++) mean[ch] /= count;
  for (let r = 0; r < count; r++) {
    for (let ch = 0; ch < c; ch++) {
      const d = x[r * c + ch]! - mean[ch]!;
      variance[ch] += d * d;
    }
  }
  for (let ch = 0; ch < c; ch++) variance[ch] /= count;
  return { mean, variance };
}

/** y = act(gamma * (x - mean) / sqrt(variance + eps) + beta); gamma/beta absent mean 1/0. */
export function batchNormApplyRef(
  x: ArrayLike<number>,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  gamma: ArrayLike<number> | undefined,
  beta: ArrayLike<number> | undefined,
  eps: number,
  { count, c }: BatchNormRefDims,
  activation?: Activation,
): Float64Array {
  const y = new Float64Array(count * c);
  for (let r = 0; r < count; r++) {
    for (let ch = 0; ch < c; ch++) {
      const xhat = (x[r * c + ch]! - mean[ch]!) / Math.sqrt(variance[ch]! + eps);
      y[r * c + ch] = applyActivationRef((gamma ? gamma[ch]! : 1) * xhat + (beta ? beta[ch]! : 0), activation);
    }
  }
  return y;
}

/** running <- (1 - momentum) * running + momentum * batch, with the unbiased batch variance (PyTorch). */
export function batchNormRunningUpdateRef(
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  mean: ArrayLike<number>,
  biasedVariance: ArrayLike<number>,
  count: number,
  momentum: number,
  unbiased = true,
): { runningMean: Float64Array; runningVar: Float64Array } {
  const c = mean.length;
  const newMean = new Float64Array(c);
  const newVar = new Float64Array(c);
  const correction = unbiased ? count / (count - 1) : 1;
  for (let ch = 0; ch < c; ch++) {
    newMean[ch] = (1 - momentum) * runningMean[ch]! + momentum * mean[ch]!;
    newVar[ch] = (1 - momentum) * runningVar[ch]! + momentum * biasedVariance[ch]! * correction;
  }
  return { runningMean: newMean, runningVar: newVar };
}

/** Training-mode forward as one function of x, gamma and beta (batch statistics), for finite differences. */
export function batchNormTrainingRef(
  x: ArrayLike<number>,
  gamma: ArrayLike<number> | undefined,
  beta: ArrayLike<number> | undefined,
  eps: number,
  dims: BatchNormRefDims,
  activation?: Activation,
): Float64Array {
  const { mean, variance } = batchNormStatsRef(x, dims);
  return batchNormApplyRef(x, mean, variance, gamma, beta, eps, dims, activation);
}

/**
 * Gradients of y = gamma * xhat + beta, xhat = (x - mean) * invstd, given dy.
 * batchStatistics: mean and invstd were computed from this x (training), so they depend on x;
 * otherwise they are constants (frozen running statistics) and dx = dy * gamma * invstd.
 */
export function batchNormBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  mean: ArrayLike<number>,
  invstd: ArrayLike<number>,
  gamma: ArrayLike<number> | undefined,
  { count, c }: BatchNormRefDims,
  batchStatistics: boolean,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  for (let r = 0; r < count; r++) {
    for (let ch = 0; ch < c; ch++) {
      const g = dy[r * c + ch]!;
      dbeta[ch] += g;
      dgamma[ch] += g * (x[r * c + ch]! - mean[ch]!) * invstd[ch]!;
    }
  }
  const dx = new Float64Array(count * c);
  for (let r = 0; r < count; r++) {
    for (let ch = 0; ch < c; ch++) {
      const scale = (gamma ? gamma[ch]! : 1) * invstd[ch]!;
      const g = dy[r * c + ch]!;
      if (!batchStatistics) {
        dx[r * c + ch] = g * scale;
        continue;
      }
      // dL/dx through xhat directly, through the mean (sum dy / N) and through the variance (xhat * sum dy xhat / N).
      const xhat = (x[r * c + ch]! - mean[ch]!) * invstd[ch]!;
      dx[r * c + ch] = (scale / count) * (count * g - dbeta[ch]! - xhat * dgamma[ch]!);
    }
  }
  return { dx, dgamma, dbeta };
}

/** Direct NHWC convolution with HWIO weights, stride 1, no padding (just enough to test folding). */
export function convValidRef(
  x: ArrayLike<number>,
  weights: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  dims: { n: number; h: number; w: number; c_in: number; c_out: number; k_h: number; k_w: number },
): Float64Array {
  const { n, h, w, c_in, c_out, k_h, k_w } = dims;
  const outH = h - k_h + 1;
  const outW = w - k_w + 1;
  const y = new Float64Array(n * outH * outW * c_out);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        for (let co = 0; co < c_out; co++) {
          let sum = bias ? bias[co]! : 0;
          for (let ky = 0; ky < k_h; ky++) {
            for (let kx = 0; kx < k_w; kx++) {
              for (let ci = 0; ci < c_in; ci++) {
                sum += x[((b * h + oy + ky) * w + ox + kx) * c_in + ci]! * weights[((ky * k_w + kx) * c_in + ci) * c_out + co]!;
              }
            }
          }
          y[((b * outH + oy) * outW + ox) * c_out + co] = sum;
        }
      }
    }
  }
  return y;
}

/** Depthwise NHWC convolution with [k_h, k_w, c] weights, stride 1, no padding. */
export function depthwiseValidRef(
  x: ArrayLike<number>,
  weights: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  dims: { n: number; h: number; w: number; c: number; k_h: number; k_w: number },
): Float64Array {
  const { n, h, w, c, k_h, k_w } = dims;
  const outH = h - k_h + 1;
  const outW = w - k_w + 1;
  const y = new Float64Array(n * outH * outW * c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        for (let ch = 0; ch < c; ch++) {
          let sum = bias ? bias[ch]! : 0;
          for (let ky = 0; ky < k_h; ky++) {
            for (let kx = 0; kx < k_w; kx++) sum += x[((b * h + oy + ky) * w + ox + kx) * c + ch]! * weights[(ky * k_w + kx) * c + ch]!;
          }
          y[((b * outH + oy) * outW + ox) * c + ch] = sum;
        }
      }
    }
  }
  return y;
}
