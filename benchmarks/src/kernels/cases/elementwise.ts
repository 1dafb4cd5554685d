/**
 * The elementwise ops the autograd runs between layers, at batch 8 on 56x56x144 (a MobileNetV2
 * expansion output): relu6 and its backward, a per-channel broadcast multiply (a BN-style scale)
 * and its backward (da, and db reduced over the broadcast), and exp as a transcendental unary op.
 * tfjs: tf.relu6, tf.mul with a [c] tensor, tf.exp; the relu6 gradient is dy * (0 < y < 6) built
 * from ops, as tfjs's own gradient does.
 */
import { activation, activationBackward, binary, binaryBackward, unary, type Gpu } from '@graft/kernels';
import type { KernelBenchCase, Tf } from '../case.js';
import { uniformData } from '../data.js';

const f32 = 4;
const batch = 8;
const [size, c] = [56, 144];
const shape = [batch, size, size, c] as const;
const elements = batch * size * size * c;
const where = `${size}x${size}x${c} b${batch}`;

/** x scaled to [-3, 9): relu6 then has values on both sides of 0 and 6. */
function activationInput(): Float32Array {
  return uniformData(1, elements).map((v) => 6 * v + 3);
}

const relu6Forward: KernelBenchCase = {
  kernel: 'activation',
  label: `relu6 ${where}`,
  direction: 'forward',
  flops: 2 * elements,
  bytes: f32 * 2 * elements,
  graft(gpu: Gpu) {
    const x = gpu.upload(activationInput(), shape);
    return { run: () => activation(gpu, x, 'relu6'), dispose: () => gpu.release(x) };
  },
  tfjs(tf: Tf) {
    const x = tf.tensor4d(activationInput(), [...shape]);
    return { run: () => tf.relu6(x), dispose: () => x.dispose() };
  },
};

const relu6Backward: KernelBenchCase = {
  kernel: 'activation',
  label: `relu6 ${where} dx`,
  direction: 'backward',
  flops: 3 * elements,
  bytes: f32 * 3 * elements,
  graft(gpu: Gpu) {
    const x = gpu.upload(activationInput(), shape);
    const y = activation(gpu, x, 'relu6');
    const dy = gpu.upload(uniformData(2, elements), shape);
    return { run: () => activationBackward(gpu, dy, y, 'relu6'), dispose: () => gpu.release(x, y, dy) };
  },
  tfjs(tf: Tf) {
    const y = tf.relu6(tf.tensor4d(activationInput(), [...shape]));
    const dy = tf.tensor4d(uniformData(2, elements), [...shape]);
    return {
      run: () => tf.tidy(() => tf.mul(dy, tf.logicalAnd(tf.greater(y, 0), tf.less(y, 6)).cast('float32'))),
      dispose: () => tf.dispose([y, dy]),
    };
  },
};

const mulForward: KernelBenchCase = {
  kernel: 'elementwise',
  label: `mul by [${c}] ${where}`,
  direction: 'forward',
  flops: elements,
  bytes: f32 * (2 * elements + c),
  graft(gpu: Gpu) {
    const a = gpu.upload(uniformData(3, elements), shape);
    const b = gpu.upload(uniformData(4, c), [c]);
    return { run: () => binary(gpu, 'mul', a, b), dispose: () => gpu.release(a, b) };
  },
  tfjs(tf: Tf) {
    const a = tf.tensor4d(uniformData(3, elements), [...shape]);
    const b = tf.tensor1d(uniformData(4, c));
    return { run: () => tf.mul(a, b), dispose: () => tf.dispose([a, b]) };
  },
};

const mulBackward: KernelBenchCase = {
  kernel: 'elementwise',
  label: `mul by [${c}] ${where} da+db`,
  direction: 'backward',
  flops: 4 * elements, // two products and the reduction of db over the broadcast
  bytes: f32 * (3 * elements + c),
  graft(gpu: Gpu) {
    const a = gpu.upload(uniformData(3, elements), shape);
    const b = gpu.upload(uniformData(4, c), [c]);
    const dy = gpu.upload(uniformData(5, elements), shape);
    return {
      run: () => {
        const { da, db } = binaryBackward(gpu, 'mul', dy, a, b);
        return [da!, db!];
      },
      dispose: () => gpu.release(a, b, dy),
    };
  },
  tfjs(tf: Tf) {
    const a = tf.tensor4d(uniformData(3, elements), [...shape]);
    const b = tf.tensor1d(uniformData(4, c));
    const dy = tf.tensor4d(uniformData(5, elements), [...shape]);
    return { run: () => tf.tidy(() => [tf.mul(dy, b), tf.sum(tf.mul(dy, a), [0, 1, 2])]), dispose: () => tf.dispose([a, b, dy]) };
  },
};

const expForward: KernelBenchCase = {
  kernel: 'elementwise',
  label: `exp ${where}`,
  direction: 'forward',
  flops: elements,
  bytes: f32 * 2 * elements,
  graft(gpu: Gpu) {
    const x = gpu.upload(uniformData(6, elements), shape);
    return { run: () => unary(gpu, 'exp', x), dispose: () => gpu.release(x) };
  },
  tfjs(tf: Tf) {
    const x = tf.tensor4d(uniformData(6, elements), [...shape]);
    return { run: () => tf.exp(x), dispose: () => x.dispose() };
  },
};

export const cases: KernelBenchCase[] = [relu6Forward, relu6Backward, mulForward, mulBackward, expForward];
