/**
 * Residual add + relu at batch 8 on 56x56x256 (ResNet-50 stage 1's block output).
 * tfjs: tf.relu(tf.add(a, b)) (two kernels; graft fuses them into one pass). Backward: graft's
 * addActivationBackward is one masked copy, dy * (y > 0), that serves as both da and db; tfjs's
 * relu gradient is dy * step(x) and add passes dy through, so the tfjs side is tf.mul(dy, tf.step(y)).
 */
import { addActivation, addActivationBackward, type Gpu } from '@graft/kernels';
import type { KernelBenchCase, Tf } from '../case.js';
import { uniformData } from '../data.js';

const f32 = 4;
const batch = 8;
const [size, c] = [56, 256];
const shape = [batch, size, size, c] as const;
const elements = batch * size * size * c;
const label = `add+relu ${size}x${size}x${c} b${batch}`;

const forward: KernelBenchCase = {
  kernel: 'addActivation',
  label,
  direction: 'forward',
  flops: 2 * elements, // add, max
  bytes: f32 * 3 * elements,
  graft(gpu: Gpu) {
    const a = gpu.upload(uniformData(1, elements), shape);
    const b = gpu.upload(uniformData(2, elements), shape);
    return { run: () => addActivation(gpu, a, b, 'relu'), dispose: () => gpu.release(a, b) };
  },
  tfjs(tf: Tf) {
    const a = tf.tensor4d(uniformData(1, elements), [...shape]);
    const b = tf.tensor4d(uniformData(2, elements), [...shape]);
    return { run: () => tf.tidy(() => tf.relu(tf.add(a, b))), dispose: () => tf.dispose([a, b]) };
  },
};

const backward: KernelBenchCase = {
  kernel: 'addActivation',
  label: `${label} da=db`,
  direction: 'backward',
  flops: elements, // one compare-and-select per element
  bytes: f32 * 3 * elements, // dy and y read, the gradient written
  graft(gpu: Gpu) {
    const a = gpu.upload(uniformData(1, elements), shape);
    const b = gpu.upload(uniformData(2, elements), shape);
    const y = addActivation(gpu, a, b, 'relu');
    const dy = gpu.upload(uniformData(3, elements), shape);
    return { run: () => addActivationBackward(gpu, dy, y, 'relu'), dispose: () => gpu.release(a, b, y, dy) };
  },
  tfjs(tf: Tf) {
    const y = tf.tidy(() => tf.relu(tf.add(tf.tensor4d(uniformData(1, elements), [...shape]), tf.tensor4d(uniformData(2, elements), [...shape]))));
    const dy = tf.tensor4d(uniformData(3, elements), [...shape]);
    return { run: () => tf.tidy(() => tf.mul(dy, tf.step(y))), dispose: () => tf.dispose([y, dy]) };
  },
};

export const cases: KernelBenchCase[] = [forward, backward];
