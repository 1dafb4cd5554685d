/**
 * Plain-loop references for the optimizer steps, written from torch.optim's documented update
 * rules (PyTorch 1.13), one tensor at a time. Work in float64 on any ArrayLike<number>.
 */

export interface SgdRefOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** One SGD step. `momentumBuffer` is null before the first step (PyTorch's missing state). */
export function sgdStepRef(
  param: ArrayLike<number>,
  grad: ArrayLike<number>,
  momentumBuffer: ArrayLike<number> | null,
  options: SgdRefOptions,
): { param: Float64Array; momentumBuffer: Float64Array | null } {
  const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = options;
  const newParam = new Float64Array(param.length);
  const newBuffer = momentum !== 0 ? new Float64Array(param.length) : null;
  for (let i = 0; i < param.length; i++) {
    let d = grad[i]! + weightDecay * param[i]!;
    if (newBuffer) {
      const buf = momentumBuffer === null ? d : momentum * momentumBuffer[i]! + (1 - dampening) * d;
      newBuffer[i] = buf;
      d = nesterov ? d + momentum * buf : buf;
    }
    newParam[i] = param[i]! - lr * d;
  }
  return { param: newParam, momentumBuffer: newBuffer };
}

export interface AdamRefOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
  /** AdamW: param *= 1 - lr * weightDecay before the update, instead of L2 in the gradient. */
  decoupledWeightDecay?: boolean;
}

/** One Adam/AdamW step; `step` is 1-based and counts this step. */
export function adamStepRef(
  param: ArrayLike<number>,
  grad: ArrayLike<number>,
  expAvg: ArrayLike<number>,
  expAvgSq: ArrayLike<number>,
  step: number,
  options: AdamRefOptions,
): { param: Float64Array; expAvg: Float64Array; expAvgSq: Float64Array } {
  const decoupled = options.decoupledWeightDecay ?? false;
  const { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = decoupled ? 1e-2 : 0 } = options;
  const [beta1, beta2] = betas;
  const biasCorrection1 = 1 - beta1 ** step;
  const biasCorrection2 = 1 - beta2 ** step;
  const out = { param: new Float64Array(param.length), expAvg: new Float64Array(param.length), expAvgSq: new Float64Array(param.length) };
  for (let i = 0; i < param.length; i++) {
    let p = param[i]!;
    let g = grad[i]!;
    if (decoupled) p *= 1 - lr * weightDecay;
    else g += weightDecay * p;
    const m = beta1 * expAvg[i]! + (1 - beta1) * g;
    const v = beta2 * expAvgSq[i]! + (1 - beta2) * g * g;
    const denom = Math.sqrt(v) / Math.sqrt(biasCorrection2) + eps;
    out.param[i] = p - (lr / biasCorrection1) * (m / denom);
    out.expAvg[i] = m;
    out.expAvgSq[i] = v;
  }
  return out;
}
