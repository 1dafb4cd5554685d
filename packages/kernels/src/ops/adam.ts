/** Fused Adam / AdamW step (torch.optim.Adam and AdamW, amsgrad off). See adam.wgsl. */
import type { Gpu } from '../runtime/gpu.js';
import { defineKernel } from '../runtime/kernel.js';
import { expectPositiveInt } from '../runtime/validate.js';
import type { GpuTensor, HostTensor } from '../runtime/tensor.js';
import { dispatchFused, expectInRange, packRows, planFusedStep, runFusedStepsOnHost, type HostStepResult } from './optimizerStep.js';

const kernel = defineKernel('adam', import.meta.url);

/**
 * PyTorch's Adam hyperparameters and defaults. `decoupledWeightDecay` selects AdamW: the parameter
 * shrinks by lr * weightDecay before the update instead of weightDecay * param joining the gradient;
 * weightDecay then defaults to AdamW's 1e-2.
 */
export interface AdamOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
  decoupledWeightDecay?: boolean;
}

export interface AdamTensor {
  param: GpuTensor;
  grad: GpuTensor;
  /** First moment m (PyTorch's exp_avg): a view into its arena at the parameter's offset. */
  expAvg: GpuTensor;
  /** Second moment v (PyTorch's exp_avg_sq). */
  expAvgSq: GpuTensor;
  /** 1-based count of this tensor's steps, this one included (PyTorch's state['step'] after += 1). */
  step: number;
  options: AdamOptions;
}

const rowFields = [
  { name: 'param_scale', type: 'f32' },
  { name: 'weight_decay', type: 'f32' },
  { name: 'beta1', type: 'f32' },
  { name: 'one_minus_beta1', type: 'f32' },
  { name: 'beta2', type: 'f32' },
  { name: 'one_minus_beta2', type: 'f32' },
  { name: 'eps', type: 'f32' },
  { name: 'step_size', type: 'f32' },
  { name: 'bias_correction2_sqrt', type: 'f32' },
] as const;

type AdamRow = Record<(typeof rowFields)[number]['name'], number>;

/** The row of scalars for one tensor, computed in float64 like PyTorch's Python-side arithmetic. */
function adamRow(t: AdamTensor, i: number): AdamRow {
  const decoupled = t.options.decoupledWeightDecay ?? false;
  const { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = decoupled ? 1e-2 : 0 } = t.options;
  const name = (field: string) => `tensors[${i}].${field}`;
  expectInRange('adam', name('options.lr'), lr, 0, Infinity);
  expectInRange('adam', name('options.betas[0]'), betas[0], 0, 1);
  expectInRange('adam', name('options.betas[1]'), betas[1], 0, 1);
  expectInRange('adam', name('options.eps'), eps, 0, Infinity);
  expectInRange('adam', name('options.weightDecay'), weightDecay, 0, Infinity);
  expectPositiveInt('adam', name('step'), t.step);
  const [beta1, beta2] = betas;
  return {
    param_scale: decoupled ? 1 - lr * weightDecay : 1,
    weight_decay: decoupled ? 0 : weightDecay,
    beta1,
    one_minus_beta1: 1 - beta1,
    beta2,
    one_minus_beta2: 1 - beta2,
    eps,
    step_size: lr / (1 - beta1 ** t.step),
    bias_correction2_sqrt: Math.sqrt(1 - beta2 ** t.step),
  };
}

/** Updates every parameter and both moments in place: one dispatch, or one per arena span that fits a binding (planFusedStep). */
export function adamStep(gpu: Gpu, tensors: readonly AdamTensor[], maxBindingBytes = gpu.limits.maxStorageBufferBindingSize): void {
  const rows = tensors.map(adamRow);
  const plans = planFusedStep('adam', tensors.map((t) => ({ param: t.param, grad: t.grad, state: { expAvg: t.expAvg, expAvgSq: t.expAvgSq } })), ['expAvg', 'expAvgSq'], maxBindingBytes);
  dispatchFused(gpu, kernel, plans, packRows(rows, rowFields), (spans) => [spans.param!, spans.grad!, spans.expAvg!, spans.expAvgSq!]);
}

export interface AdamHostTensor {
  param: HostTensor;
  options: AdamOptions;
}

/**
 * Runs gradsPerStep.length steps ([step][tensor] gradients) from fresh state (m = v = 0), one
 * dispatch per step; returns every tensor's parameter, exp_avg and exp_avg_sq after each step.
 */
export function adamHost(gpu: Gpu, tensors: readonly AdamHostTensor[], gradsPerStep: readonly (readonly HostTensor[])[]): Promise<HostStepResult<'expAvg' | 'expAvgSq'>[]> {
  return runFusedStepsOnHost(gpu, tensors.map((t) => t.param), gradsPerStep, ['expAvg', 'expAvgSq'], (views, step) =>
    adamStep(gpu, views.map((v, i) => ({ param: v.param, grad: v.grad, expAvg: v.state.expAvg, expAvgSq: v.state.expAvgSq, step, options: tensors[i]!.options }))),
  );
}
