/** Fused SGD step (torch.optim.SGD: momentum, dampening, nesterov, weight decay). See sgd.wgsl. */
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { defineKernel } from '../runtime/kernel.js';
import { expectPositiveInt } from '../runtime/validate.js';
import { GpuTensor, type HostTensor } from '../runtime/tensor.js';
import { dispatchFused, expectInRange, packRows, planFusedStep, runFusedStepsOnHost, type HostStepResult } from './optimizerStep.js';

const kernel = defineKernel('sgd', import.meta.url);

/** PyTorch's SGD hyperparameters and defaults (lr has no default there either). */
export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export interface SgdTensor {
  param: GpuTensor;
  grad: GpuTensor;
  /** Required when momentum != 0; a view into the momentum arena at the parameter's offset. */
  momentumBuffer?: GpuTensor;
  /** 1-based count of this tensor's steps, this one included; step 1 starts the momentum buffer. */
  step: number;
  options: SgdOptions;
}

const rowFields = [
  { name: 'lr', type: 'f32' },
  { name: 'weight_decay', type: 'f32' },
  { name: 'momentum', type: 'f32' },
  { name: 'one_minus_dampening', type: 'f32' },
  { name: 'nesterov', type: 'u32' },
  { name: 'first_step', type: 'u32' },
] as const;

type SgdRow = Record<(typeof rowFields)[number]['name'], number>;

function sgdRow(t: SgdTensor, i: number): SgdRow {
  const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = t.options;
  const name = (field: string) => `tensors[${i}].${field}`;
  expectInRange('sgd', name('options.lr'), lr, 0, Infinity);
  expectInRange('sgd', name('options.momentum'), momentum, 0, Infinity);
  expectInRange('sgd', name('options.dampening'), dampening, 0, 1, true);
  expectInRange('sgd', name('options.weightDecay'), weightDecay, 0, Infinity);
  expectPositiveInt('sgd', name('step'), t.step);
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    throw new KernelArgumentError('sgd', name('options.nesterov'), 'momentum > 0 and dampening = 0 (as torch.optim.SGD requires)', `momentum ${momentum}, dampening ${dampening}`);
  }
  if (momentum !== 0 && !t.momentumBuffer) throw new KernelArgumentError('sgd', name('momentumBuffer'), 'a tensor (momentum is not 0)', 'undefined');
  return {
    lr,
    weight_decay: weightDecay,
    momentum,
    one_minus_dampening: 1 - dampening,
    nesterov: nesterov ? 1 : 0,
    first_step: t.step === 1 ? 1 : 0,
  };
}

/** Updates every parameter (and momentum buffer) in place: one dispatch, or one per arena span that fits a binding (planFusedStep). */
export function sgdStep(gpu: Gpu, tensors: readonly SgdTensor[], maxBindingBytes = gpu.limits.maxStorageBufferBindingSize): void {
  const rows = tensors.map(sgdRow);
  // Buffers of tensors without momentum are neither read nor written: leave them out of the checks.
  const plans = planFusedStep(
    'sgd',
    tensors.map((t, i) => ({ param: t.param, grad: t.grad, state: { momentumBuffer: rows[i]!.momentum !== 0 ? t.momentumBuffer : undefined } })),
    ['momentumBuffer'],
    maxBindingBytes,
  );
  dispatchFused(gpu, kernel, plans, packRows(rows, rowFields), (spans) => [spans.param!, spans.grad!, spans.momentumBuffer ?? gpu.placeholder()]);
}

export interface SgdHostTensor {
  param: HostTensor;
  options: SgdOptions;
}

/**
 * Runs gradsPerStep.length steps ([step][tensor] gradients) from fresh state, one dispatch per
 * step; returns every tensor's parameter and momentum buffer after each step.
 */
export function sgdHost(gpu: Gpu, tensors: readonly SgdHostTensor[], gradsPerStep: readonly (readonly HostTensor[])[]): Promise<HostStepResult<'momentumBuffer'>[]> {
  return runFusedStepsOnHost(gpu, tensors.map((t) => t.param), gradsPerStep, ['momentumBuffer'], (views, step) =>
    sgdStep(gpu, views.map((v, i) => ({ param: v.param, grad: v.grad, momentumBuffer: v.state.momentumBuffer, step, options: tensors[i]!.options }))),
  );
}
