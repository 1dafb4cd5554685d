/**
 * docs/kernels.md promises every launcher checks dtypes before dispatch. One test per kernel family:
 * each argument that must be f32 (or u32, for labels and argmax) is swapped for the wrong dtype in
 * turn, and the launcher must throw a KernelArgumentError naming that argument and both dtypes.
 * Tensors are allocated, never written: nothing is dispatched when the check works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import type { DType, GpuTensor, Shape } from '../runtime/tensor.js';
import { testGpu } from '../testing/index.js';
import { activation, activationBackward } from './activation.js';
import { addActivation, addActivationBackward } from './addActivation.js';
import { adamStep } from './adam.js';
import { batchNormApply, batchNormBackward, batchNormInference, batchNormStatistics, batchNormTraining } from './batchNorm.js';
import { depthwiseConv2d, depthwiseConv2dBackward } from './depthwiseConv2d.js';
import { dropout, dropoutBackward } from './dropout.js';
import { binary, binaryBackward, unary, unaryBackward } from './elementwise.js';
import { globalAvgPool, globalAvgPoolBackward } from './globalAvgPool.js';
import { maxPool2d, maxPool2dBackward } from './maxPool2d.js';
import { createArena } from './optimizerStep.js';
import { sgdStep } from './sgd.js';
import { sigmoidBinaryCrossEntropy, sigmoidBinaryCrossEntropyBackward } from './sigmoidBinaryCrossEntropy.js';
import { softmax, softmaxCrossEntropy, softmaxCrossEntropyBackward } from './softmaxCrossEntropy.js';
import { sumAll, sumRows } from './sumRows.js';

let gpu: Gpu;
const allocated: GpuTensor[] = [];
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu.release(...allocated));

const f32 = (shape: Shape) => tensor(shape, 'f32');
const u32 = (shape: Shape) => tensor(shape, 'u32');
function tensor(shape: Shape, dtype: DType): GpuTensor {
  const t = gpu.allocate(shape, dtype);
  allocated.push(t);
  return t;
}

/** `call` must throw a KernelArgumentError for `argument` with dtype `expected`, found `found`. */
function expectDTypeError(call: () => unknown, argument: string, expected: DType = 'f32', found: DType = expected === 'f32' ? 'u32' : 'f32'): void {
  let error: unknown;
  try {
    call();
  } catch (e) {
    error = e;
  }
  expect(error, `no error for '${argument}'`).toBeInstanceOf(KernelArgumentError);
  expect((error as Error).message).toContain(`argument '${argument}' expected dtype ${expected}, found dtype ${found}`);
}

describe('launchers reject a tensor of the wrong dtype before dispatch', () => {
  it('depthwiseConv2d', () => {
    const x = f32([1, 5, 5, 4]);
    const w = f32([3, 3, 4]);
    const dy = f32([1, 3, 3, 4]);
    expectDTypeError(() => depthwiseConv2d(gpu, u32([1, 5, 5, 4]), w), 'x');
    expectDTypeError(() => depthwiseConv2d(gpu, x, u32([3, 3, 4])), 'weight');
    expectDTypeError(() => depthwiseConv2d(gpu, x, w, { bias: u32([4]) }), 'bias');
    expectDTypeError(() => depthwiseConv2d(gpu, x, w, {}, u32([1, 3, 3, 4])), 'out');
    expectDTypeError(() => depthwiseConv2dBackward(gpu, u32([1, 3, 3, 4]), x, w), 'dy');
    expectDTypeError(() => depthwiseConv2dBackward(gpu, dy, u32([1, 5, 5, 4]), w), 'x');
    expectDTypeError(() => depthwiseConv2dBackward(gpu, dy, x, u32([3, 3, 4])), 'weight');
  });

  it('batchNorm', () => {
    const x = f32([2, 3, 3, 4]);
    const c = f32([4]);
    const xU = u32([2, 3, 3, 4]);
    expectDTypeError(() => batchNormStatistics(gpu, xU), 'x');
    expectDTypeError(() => batchNormTraining(gpu, xU), 'x');
    expectDTypeError(() => batchNormTraining(gpu, x, { gamma: u32([4]) }), 'gamma');
    expectDTypeError(() => batchNormTraining(gpu, x, { runningMean: c, runningVar: u32([4]) }), 'runningVar');
    expectDTypeError(() => batchNormInference(gpu, x, { runningMean: u32([4]), runningVar: c }), 'runningMean');
    expectDTypeError(() => batchNormApply(gpu, x, u32([2, 4])), 'scaleShift');
    expectDTypeError(() => batchNormApply(gpu, x, f32([2, 4]), 'none', u32([2, 3, 3, 4])), 'out');
    expectDTypeError(() => batchNormBackward(gpu, xU, x, { mean: c, invstd: c }, true), 'dy');
    expectDTypeError(() => batchNormBackward(gpu, x, xU, { mean: c, invstd: c }, true), 'x');
    expectDTypeError(() => batchNormBackward(gpu, x, x, { mean: u32([4]), invstd: c }, true), 'mean');
    expectDTypeError(() => batchNormBackward(gpu, x, x, { mean: c, invstd: u32([4]) }, true), 'invstd');
    expectDTypeError(() => batchNormBackward(gpu, x, x, { mean: c, invstd: c, gamma: u32([4]) }, true), 'gamma');
  });

  it('sumRows', () => {
    expectDTypeError(() => sumRows(gpu, u32([6, 2]), 2), 'x');
    expectDTypeError(() => sumAll(gpu, u32([6])), 'x');
  });

  it('globalAvgPool', () => {
    expectDTypeError(() => globalAvgPool(gpu, u32([1, 2, 2, 3])), 'x');
    expectDTypeError(() => globalAvgPoolBackward(gpu, u32([1, 3]), [1, 2, 2, 3]), 'dy');
  });

  it('maxPool2d', () => {
    const options = { kernelSize: 2 };
    expectDTypeError(() => maxPool2d(gpu, u32([1, 4, 4, 3]), options), 'x');
    expectDTypeError(() => maxPool2dBackward(gpu, u32([1, 2, 2, 3]), u32([1, 2, 2, 3]), [1, 4, 4, 3], options), 'dy');
    expectDTypeError(() => maxPool2dBackward(gpu, f32([1, 2, 2, 3]), f32([1, 2, 2, 3]), [1, 4, 4, 3], options), 'argmax', 'u32');
  });

  it('activation and addActivation', () => {
    const a = f32([2, 3]);
    const aU = u32([2, 3]);
    expectDTypeError(() => activation(gpu, aU, 'relu'), 'x');
    expectDTypeError(() => activationBackward(gpu, aU, a, 'relu'), 'dy');
    expectDTypeError(() => activationBackward(gpu, a, aU, 'relu6'), 'y');
    expectDTypeError(() => addActivation(gpu, aU, a, 'relu'), 'a');
    expectDTypeError(() => addActivation(gpu, a, aU, 'relu'), 'b');
    expectDTypeError(() => addActivationBackward(gpu, aU, a, 'relu'), 'dy');
    expectDTypeError(() => addActivationBackward(gpu, a, aU, 'relu'), 'y');
  });

  it('elementwise', () => {
    const a = f32([2, 3]);
    const aU = u32([2, 3]);
    expectDTypeError(() => unary(gpu, 'exp', aU), 'x');
    expectDTypeError(() => binary(gpu, 'add', aU, a), 'a');
    expectDTypeError(() => binary(gpu, 'mul', a, aU), 'b');
    expectDTypeError(() => unaryBackward(gpu, 'copy', aU, {}), 'dy');
    expectDTypeError(() => unaryBackward(gpu, 'log', a, { x: aU }), 'x');
    expectDTypeError(() => unaryBackward(gpu, 'exp', a, { y: aU }), 'y');
    expectDTypeError(() => binaryBackward(gpu, 'add', aU, a, a), 'dy');
    // Checked even when only the other operand's gradient is wanted.
    expectDTypeError(() => binaryBackward(gpu, 'add', a, aU, a, { b: true }), 'a');
    expectDTypeError(() => binaryBackward(gpu, 'add', a, a, aU, { a: true }), 'b');
  });

  it('dropout', () => {
    expectDTypeError(() => dropout(gpu, u32([8]), 0.5, 1), 'x');
    expectDTypeError(() => dropoutBackward(gpu, u32([8]), 0.5, 1), 'x');
  });

  it('losses (labels must be u32)', () => {
    const logits = f32([3, 4]);
    const labels = u32([3]);
    expectDTypeError(() => softmaxCrossEntropy(gpu, u32([3, 4]), labels), 'logits');
    expectDTypeError(() => softmaxCrossEntropy(gpu, logits, f32([3])), 'labels', 'u32');
    expectDTypeError(() => softmaxCrossEntropy(gpu, logits, labels, { weight: u32([4]) }), 'weight');
    expectDTypeError(() => softmaxCrossEntropyBackward(gpu, u32([1]), { residual: logits, reduction: 'mean' }), 'upstream');
    expectDTypeError(() => softmaxCrossEntropyBackward(gpu, f32([1]), { residual: u32([3, 4]), reduction: 'mean' }), 'residual');
    expectDTypeError(() => softmaxCrossEntropyBackward(gpu, f32([1]), { residual: logits, weightSum: u32([1]), reduction: 'mean' }), 'weightSum');
    expectDTypeError(() => softmax(gpu, u32([3, 4])), 'x');
    expectDTypeError(() => sigmoidBinaryCrossEntropy(gpu, u32([3, 4]), logits), 'logits');
    expectDTypeError(() => sigmoidBinaryCrossEntropy(gpu, logits, u32([3, 4])), 'targets');
    expectDTypeError(() => sigmoidBinaryCrossEntropy(gpu, logits, logits, { posWeight: u32([4]) }), 'posWeight');
    expectDTypeError(() => sigmoidBinaryCrossEntropyBackward(gpu, u32([1]), logits, logits), 'upstream');
  });

  it('optimizers', () => {
    const params = createArena(gpu, [[10]]);
    const grads = createArena(gpu, [[10]]);
    const state = createArena(gpu, [[10]]);
    allocated.push(params.whole, grads.whole, state.whole);
    expectDTypeError(() => sgdStep(gpu, [{ param: params.views[0]!, grad: u32([10]), step: 1, options: { lr: 0.1 } }]), 'tensors[0].grad');
    expectDTypeError(
      () => sgdStep(gpu, [{ param: params.views[0]!, grad: grads.views[0]!, momentumBuffer: u32([10]), step: 1, options: { lr: 0.1, momentum: 0.9 } }]),
      'tensors[0].momentumBuffer',
    );
    expectDTypeError(
      () => adamStep(gpu, [{ param: u32([10]), grad: grads.views[0]!, expAvg: state.views[0]!, expAvgSq: state.views[0]!, step: 1, options: { lr: 0.1 } }]),
      'tensors[0].param',
    );
  });
});

describe('matmul and conv2d check dtypes before dispatch', () => {
  it('rejects u32 operands', async () => {
    const { matmul } = await import('./matmul.js');
    const { conv2d } = await import('./conv2d.js');
    const gpu = await testGpu();
    const f = gpu.allocate([4, 4]);
    const u = gpu.allocate([4, 4], 'u32');
    expect(() => matmul(gpu, u, f)).toThrow(/matmul: argument 'a' expected dtype f32, found dtype u32/);
    expect(() => matmul(gpu, f, u)).toThrow(/argument 'b' expected dtype f32/);
    expect(() => matmul(gpu, f, f, {}, f)).toThrow(/argument 'out' expected a buffer distinct from a and b/);
    const x = gpu.allocate([1, 3, 3, 4], 'u32');
    const w = gpu.allocate([1, 1, 4, 2]);
    expect(() => conv2d(gpu, x, w)).toThrow(/conv2d: argument 'x' expected dtype f32/);
    gpu.release(f, u, x, w);
  });
});
