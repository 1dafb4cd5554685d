/**
 * Binary cross-entropy with logits (PyTorch's F.binary_cross_entropy_with_logits with `pos_weight`)
 * and its backward. Logits [n], [n, 1] or multi-label [n, classes]; targets the same shape, in [0, 1].
 * See sigmoidBinaryCrossEntropy.wgsl and docs/kernels/losses.md.
 */
import type { Gpu } from '../runtime/gpu.js';
import { runOnHost } from '../runtime/host.js';
import { defineKernel } from '../runtime/kernel.js';
import type { GpuTensor, HostTensor } from '../runtime/tensor.js';
import { expectDType, expectOneOf, expectShape, groupsFor } from '../runtime/validate.js';
import { linearWorkgroups } from '../runtime/workgroups.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { reductions, type Reduction } from './softmaxCrossEntropy.js';
import { sumRows } from './sumRows.js';

const forwardKernel = defineKernel('sigmoidBinaryCrossEntropy', import.meta.url);
const backwardKernel = defineKernel('sigmoidBinaryCrossEntropyBackward', import.meta.url);
/** Must match ELEMENTS_PER_INVOCATION in both kernels. */
const elementsPerInvocation = 4;
const workgroupSize = 64; // WORKGROUP_SIZE in both kernels

export interface SigmoidBinaryCrossEntropyOptions {
  /** Weight of the positive term per class: shape [classes] (the last dimension; [1] for rank-1 logits). */
  posWeight?: GpuTensor;
  /** Default 'mean' (over every element). */
  reduction?: Reduction;
}

interface BceDims {
  size: number;
  classes: number;
  reduction: Reduction;
}

function check(name: string, x: GpuTensor, t: GpuTensor, options: SigmoidBinaryCrossEntropyOptions): BceDims {
  if (x.rank !== 1 && x.rank !== 2) {
    throw new KernelArgumentError(name, 'logits', 'rank 1 [n] or rank 2 [n, classes]', `rank ${x.rank}`);
  }
  expectDType(name, 'logits', x, 'f32');
  expectShape(name, 'targets', t, x.shape, 'the shape of logits');
  expectDType(name, 'targets', t, 'f32');
  const classes = x.rank === 2 ? x.shape[1]! : 1;
  if (options.posWeight) {
    expectShape(name, 'posWeight', options.posWeight, [classes], 'one per class (last dimension of logits)');
    expectDType(name, 'posWeight', options.posWeight, 'f32');
  }
  const reduction = options.reduction ?? 'mean';
  expectOneOf(name, 'reduction', reduction, reductions);
  return { size: x.size, classes, reduction };
}

/** Loss: [1] for 'mean' and 'sum'; the shape of logits for 'none'. */
export function sigmoidBinaryCrossEntropy(gpu: Gpu, logits: GpuTensor, targets: GpuTensor, options: SigmoidBinaryCrossEntropyOptions = {}): GpuTensor {
  const { size, classes, reduction } = check('sigmoidBinaryCrossEntropy', logits, targets, options);
  const losses = gpu.allocate(logits.shape);
  gpu.dispatch(forwardKernel, {
    bindings: [logits, targets, options.posWeight ?? gpu.placeholder(), losses],
    uniforms: { size, classes, has_pos_weight: options.posWeight ? 1 : 0 },
    workgroups: linearWorkgroups(gpu.limits, groupsFor(size, elementsPerInvocation), workgroupSize, forwardKernel.name),
  });
  if (reduction === 'none') return losses;
  const loss = sumRows(gpu, losses, 1, reduction === 'mean' ? 1 / size : 1);
  gpu.release(losses);
  return loss;
}

/** d loss / d logits; upstream is [1] for 'mean' and 'sum', the shape of logits for 'none'. */
export function sigmoidBinaryCrossEntropyBackward(
  gpu: Gpu,
  upstream: GpuTensor,
  logits: GpuTensor,
  targets: GpuTensor,
  options: SigmoidBinaryCrossEntropyOptions = {},
): GpuTensor {
  const name = 'sigmoidBinaryCrossEntropyBackward';
  const { size, classes, reduction } = check(name, logits, targets, options);
  expectShape(name, 'upstream', upstream, reduction === 'none' ? logits.shape : [1], reduction === 'none' ? 'the shape of logits' : 'the scalar loss gradient');
  expectDType(name, 'upstream', upstream, 'f32');
  const dx = gpu.allocate(logits.shape);
  gpu.dispatch(backwardKernel, {
    bindings: [logits, targets, options.posWeight ?? gpu.placeholder(), upstream, dx],
    uniforms: {
      size,
      classes,
      has_pos_weight: options.posWeight ? 1 : 0,
      per_element_upstream: reduction === 'none' ? 1 : 0,
      inv_normaliser: reduction === 'mean' ? 1 / size : 1,
    },
    workgroups: linearWorkgroups(gpu.limits, groupsFor(size, elementsPerInvocation), workgroupSize, backwardKernel.name),
  });
  return dx;
}

export interface SigmoidBinaryCrossEntropyHostOptions {
  posWeight?: HostTensor;
  reduction?: Reduction;
}

export function sigmoidBinaryCrossEntropyHost(
  gpu: Gpu,
  logits: HostTensor,
  targets: HostTensor,
  options: SigmoidBinaryCrossEntropyHostOptions = {},
): Promise<HostTensor> {
  return runOnHost(gpu, { logits, targets, posWeight: options.posWeight }, (t) =>
    sigmoidBinaryCrossEntropy(gpu, t.logits, t.targets, { ...options, posWeight: t.posWeight }),
  );
}

export function sigmoidBinaryCrossEntropyBackwardHost(
  gpu: Gpu,
  upstream: HostTensor,
  logits: HostTensor,
  targets: HostTensor,
  options: SigmoidBinaryCrossEntropyHostOptions = {},
): Promise<HostTensor> {
  return runOnHost(gpu, { upstream, logits, targets, posWeight: options.posWeight }, (t) =>
    sigmoidBinaryCrossEntropyBackward(gpu, t.upstream, t.logits, t.targets, { ...options, posWeight: t.posWeight }),
  );
}
