/**
 * Optimizer cases: one training step's update of MobileNetV2's trainable parameters (52 conv
 * weights, 104 BatchNorm weights/biases, the classifier's weight and bias: 158 tensors, ~3.5M
 * values). graft updates all of them in ONE fused dispatch over arenas (sgd.wgsl / adam.wgsl);
 * tfjs's tf.train optimizers' applyGradients run their per-variable ops, as a tfjs training loop would.
 * No weight decay (tfjs's optimizers have none), so both sides do the same math:
 *   sgd: p -= lr g;  momentum: buf = 0.9 buf + g, p -= lr buf;  adam: PyTorch's / tfjs's Adam.
 */
import { adamStep, createArena, sgdStep, writeArena, type Arena, type Gpu, type Shape } from '@graft/kernels';
import type * as tfcore from '@tensorflow/tfjs-core';
import type { KernelBenchCase, Tf } from '../case.js';
import { uniformData } from '../data.js';

const f32 = 4;
const lr = 0.01;

/** MobileNetV2 (width 1.0, 1000 classes) parameter shapes, graft layouts: HWIO convs, [k, k, c] depthwise. */
function mobileNetV2Shapes(): Shape[] {
  const shapes: Shape[] = [];
  const convBn = (weight: Shape, c: number) => shapes.push(weight, [c], [c]);
  convBn([3, 3, 3, 32], 32);
  let cIn = 32;
  const table: [t: number, c: number, n: number][] = [[1, 16, 1], [6, 24, 2], [6, 32, 3], [6, 64, 4], [6, 96, 3], [6, 160, 3], [6, 320, 1]];
  for (const [t, c, n] of table) {
    for (let i = 0; i < n; i++) {
      const hidden = cIn * t;
      if (t !== 1) convBn([1, 1, cIn, hidden], hidden);
      convBn([3, 3, hidden], hidden);
      convBn([1, 1, hidden, c], c);
      cIn = c;
    }
  }
  convBn([1, 1, cIn, 1280], 1280);
  shapes.push([1000, 1280], [1000]);
  return shapes;
}

const shapes = mobileNetV2Shapes();
const sizeOfShape = (s: Shape) => s.reduce((a, b) => a * b, 1);
const total = shapes.reduce((sum, s) => sum + sizeOfShape(s), 0);
const label = `MobileNetV2 ${shapes.length} tensors ${(total / 1e6).toFixed(2)}M params`;
/**
 * Both sides return the classifier bias after the step (graft: a view of its arena slot; tfjs: a
 * clone of the variable), so the check compares one step's update from equal starting values.
 */
const last = shapes.length - 1;
/**
 * One elementwise step with no sums: f32 rounding is a few ulps of |p| <= 1, so 1e-5 of the max
 * magnitude. The default 1e-3 would be too loose here: Adam's first step moves p by lr = 1e-3, so a
 * kernel that left p untouched would pass it.
 */
const stepTolerance = { rtol: 1e-5, atol: 1e-5 };

function arenas(gpu: Gpu, stateCount: number): { param: Arena; grad: Arena; state: Arena[] } {
  const param = createArena(gpu, shapes);
  const grad = createArena(gpu, shapes);
  writeArena(gpu, param, shapes.map((s, i) => uniformData(1 + i, sizeOfShape(s))));
  writeArena(gpu, grad, shapes.map((s, i) => uniformData(1000 + i, sizeOfShape(s))));
  return { param, grad, state: Array.from({ length: stateCount }, () => createArena(gpu, shapes)) };
}

function tfVariables(tf: Tf) {
  const variables = shapes.map((s, i) => tf.variable(tf.tensor(uniformData(1 + i, sizeOfShape(s)), s as number[]), true, `p${i}`));
  const grads: tfcore.NamedTensorMap = {};
  shapes.forEach((s, i) => (grads[`p${i}`] = tf.tensor(uniformData(1000 + i, sizeOfShape(s)), s as number[])));
  return { variables, grads };
}

function tfRun(tf: Tf, makeOptimizer: () => tfcore.Optimizer) {
  const { variables, grads } = tfVariables(tf);
  const optimizer = makeOptimizer();
  return {
    // applyGradients returns nothing; a clone of the last variable is what the harness waits on.
    run: () => {
      optimizer.applyGradients(grads);
      return variables[variables.length - 1]!.clone();
    },
    dispose: () => {
      optimizer.dispose();
      tf.dispose([...variables, ...Object.values(grads)]);
    },
  };
}

const sgd: KernelBenchCase = {
  kernel: 'optimizers',
  label: `sgd ${label}`,
  direction: 'backward',
  flops: 2 * total,
  bytes: f32 * 3 * total, // read p, g; write p
  checkAgainstPeer: stepTolerance,
  graft(gpu: Gpu) {
    const a = arenas(gpu, 0);
    let step = 0;
    return {
      run: () => {
        step++;
        sgdStep(gpu, shapes.map((_, i) => ({ param: a.param.views[i]!, grad: a.grad.views[i]!, step, options: { lr } })));
        return a.param.views[last]!;
      },
      dispose: () => gpu.release(a.param.whole, a.grad.whole),
    };
  },
  tfjs: (tf) => tfRun(tf, () => tf.train.sgd(lr)),
};

const momentum: KernelBenchCase = {
  kernel: 'optimizers',
  label: `sgd momentum 0.9 ${label}`,
  direction: 'backward',
  flops: 4 * total,
  bytes: f32 * 5 * total, // read p, g, buf; write p, buf
  checkAgainstPeer: stepTolerance,
  graft(gpu: Gpu) {
    const a = arenas(gpu, 1);
    const buf = a.state[0]!;
    let step = 0;
    return {
      run: () => {
        step++;
        sgdStep(gpu, shapes.map((_, i) => ({ param: a.param.views[i]!, grad: a.grad.views[i]!, momentumBuffer: buf.views[i]!, step, options: { lr, momentum: 0.9 } })));
        return a.param.views[last]!;
      },
      dispose: () => gpu.release(a.param.whole, a.grad.whole, buf.whole),
    };
  },
  tfjs: (tf) => tfRun(tf, () => tf.train.momentum(lr, 0.9)),
};

const adam: KernelBenchCase = {
  kernel: 'optimizers',
  label: `adam ${label}`,
  direction: 'backward',
  // m: 2, v: 3, sqrt, divide, add eps, divide, fma: ~10 per element.
  flops: 10 * total,
  bytes: f32 * 7 * total, // read p, g, m, v; write p, m, v
  checkAgainstPeer: stepTolerance,
  graft(gpu: Gpu) {
    const a = arenas(gpu, 2);
    const [m, v] = a.state as [Arena, Arena];
    let step = 0;
    return {
      run: () => {
        step++;
        adamStep(gpu, shapes.map((_, i) => ({ param: a.param.views[i]!, grad: a.grad.views[i]!, expAvg: m.views[i]!, expAvgSq: v.views[i]!, step, options: { lr: 1e-3 } })));
        return a.param.views[last]!;
      },
      dispose: () => gpu.release(a.param.whole, a.grad.whole, m.whole, v.whole),
    };
  },
  tfjs: (tf) => tfRun(tf, () => tf.train.adam(1e-3, 0.9, 0.999, 1e-8)),
};

export const cases: KernelBenchCase[] = [sgd, momentum, adam];
