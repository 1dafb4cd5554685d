/**
 * depthwiseConv2d cases: MobileNetV2's 3x3 depthwise layers at batch 8, TF-same padding. Forward is
 * y = relu6(depthwise(x, w) + bias) (the folded depthwise+BN+ReLU6 block); backward is dx + dweight from dy.
 * tfjs runs the same kernels its autograd would: fused depthwise forward, and the
 * DepthwiseConv2dNativeBackpropInput / BackpropFilter kernels that tf.grad of tf.depthwiseConv2d calls.
 * Fused frozen batch norm: y = relu6(fma(depthwise(x, w), scale, shift)) with a [2, c] scaleShift. tfjs has no
 * scale epilogue; its nearest peer, and what a tfjs model does with a frozen BN, is the fused
 * depthwise + bias + relu6 with the scale folded into the filter in setup (w * scale, bias = shift).
 */
import { depthwiseConv2d, depthwiseConv2dBackward, depthwiseConv2dOutputShape, type Gpu } from '@graft/kernels';
import type { KernelBenchCase, Tf } from '../case.js';
import { uniformData } from '../data.js';

const f32 = 4;
const batch = 8;
const k = 3;

interface Layer {
  size: number;
  c: number;
  stride: number;
}

function dims({ size, c, stride }: Layer) {
  const [, hOut, wOut] = depthwiseConv2dOutputShape([batch, size, size, c], [k, k, c], { stride, padding: 'same' }) as number[];
  return { xSize: batch * size * size * c, ySize: batch * hOut! * wOut! * c, wSize: k * k * c, hOut: hOut!, wOut: wOut! };
}

function label({ size, c, stride }: Layer): string {
  return `depthwise 3x3 ${size}x${size}x${c} s${stride} b${batch}`;
}

function forward(layer: Layer): KernelBenchCase {
  const { size, c, stride } = layer;
  const d = dims(layer);
  return {
    kernel: 'depthwiseConv2d',
    label: `${label(layer)} +bias+relu6`,
    direction: 'forward',
    flops: 2 * d.ySize * k * k,
    bytes: f32 * (d.xSize + d.wSize + c + d.ySize),
    graft(gpu: Gpu) {
      const x = gpu.upload(uniformData(1, d.xSize), [batch, size, size, c]);
      const w = gpu.upload(uniformData(2, d.wSize), [k, k, c]);
      const bias = gpu.upload(uniformData(3, c), [c]);
      const y = gpu.allocate([batch, d.hOut, d.wOut, c]);
      return {
        run: () => depthwiseConv2d(gpu, x, w, { stride, padding: 'same', bias, activation: 'relu6' }, y),
        dispose: () => gpu.release(x, w, bias, y),
      };
    },
    tfjs(tf: Tf) {
      const x = tf.tensor4d(uniformData(1, d.xSize), [batch, size, size, c]);
      const w = tf.tensor4d(uniformData(2, d.wSize), [k, k, c, 1]);
      const bias = tf.tensor1d(uniformData(3, c));
      return {
        run: () => tf.fused.depthwiseConv2d({ x, filter: w, strides: stride, pad: 'same', bias, activation: 'relu6' }),
        dispose: () => tf.dispose([x, w, bias]),
      };
    },
  };
}

function fusedBatchNorm(layer: Layer): KernelBenchCase {
  const { size, c, stride } = layer;
  const d = dims(layer);
  // scale in [0.5, 1.5) (BN's gamma * invstd near 1), shift in [-1, 1).
  const scale = uniformData(5, c).map((v) => 1 + 0.5 * v);
  const shift = uniformData(6, c);
  return {
    kernel: 'depthwiseConv2d',
    label: `${label(layer)} +frozenBN+relu6`,
    direction: 'forward',
    flops: 2 * d.ySize * k * k,
    bytes: f32 * (d.xSize + d.wSize + 2 * c + d.ySize),
    graft(gpu: Gpu) {
      const x = gpu.upload(uniformData(1, d.xSize), [batch, size, size, c]);
      const w = gpu.upload(uniformData(2, d.wSize), [k, k, c]);
      const scaleShift = gpu.upload(Float32Array.of(...scale, ...shift), [2, c]);
      const y = gpu.allocate([batch, d.hOut, d.wOut, c]);
      return {
        run: () => depthwiseConv2d(gpu, x, w, { stride, padding: 'same', scaleShift, activation: 'relu6' }, y),
        dispose: () => gpu.release(x, w, scaleShift, y),
      };
    },
    tfjs(tf: Tf) {
      const x = tf.tensor4d(uniformData(1, d.xSize), [batch, size, size, c]);
      // Weight [k, k, c] flat: channel is the fastest index, so element i belongs to channel i % c.
      const w = tf.tensor4d(uniformData(2, d.wSize).map((v, i) => v * scale[i % c]!), [k, k, c, 1]);
      const bias = tf.tensor1d(shift);
      return {
        run: () => tf.fused.depthwiseConv2d({ x, filter: w, strides: stride, pad: 'same', bias, activation: 'relu6' }),
        dispose: () => tf.dispose([x, w, bias]),
      };
    },
  };
}

function backward(layer: Layer): KernelBenchCase {
  const { size, c, stride } = layer;
  const d = dims(layer);
  return {
    kernel: 'depthwiseConv2d',
    label: `${label(layer)} dx+dW`,
    direction: 'backward',
    flops: 2 * (2 * d.ySize * k * k),
    // dx reads dy and w and writes dx; dW reads dy and x and writes dW.
    bytes: f32 * (2 * d.ySize + d.wSize + d.xSize) + f32 * (d.xSize + d.wSize),
    graft(gpu: Gpu) {
      const x = gpu.upload(uniformData(1, d.xSize), [batch, size, size, c]);
      const w = gpu.upload(uniformData(2, d.wSize), [k, k, c]);
      const dy = gpu.upload(uniformData(4, d.ySize), [batch, d.hOut, d.wOut, c]);
      return {
        run: () => {
          const { dx, dweight } = depthwiseConv2dBackward(gpu, dy, x, w, { stride, padding: 'same' }, { x: true, weight: true });
          return [dx!, dweight!];
        },
        dispose: () => gpu.release(x, w, dy),
      };
    },
    tfjs(tf: Tf) {
      const x = tf.tensor4d(uniformData(1, d.xSize), [batch, size, size, c]);
      const w = tf.tensor4d(uniformData(2, d.wSize), [k, k, c, 1]);
      const dy = tf.tensor4d(uniformData(4, d.ySize), [batch, d.hOut, d.wOut, c]);
      const attrs = { strides: stride, dilations: 1, pad: 'same' as const };
      return {
        run: () => [
          tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x.shape }) as ReturnType<Tf['zeros']>,
          tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape }) as ReturnType<Tf['zeros']>,
        ],
        dispose: () => tf.dispose([x, w, dy]),
      };
    },
  };
}

const layers: Layer[] = [
  { size: 112, c: 32, stride: 1 },
  { size: 112, c: 96, stride: 2 },
  { size: 56, c: 144, stride: 1 },
  { size: 28, c: 192, stride: 1 },
  { size: 14, c: 576, stride: 1 },
  { size: 7, c: 960, stride: 1 },
];

/** MobileNetV2 layers timed with the fused frozen batch norm (the three largest depthwise costs of its inference). */
const batchNormLayers: Layer[] = [
  { size: 112, c: 96, stride: 2 },
  { size: 56, c: 144, stride: 1 },
  { size: 14, c: 384, stride: 1 },
];

export const cases: KernelBenchCase[] = [...layers.flatMap((layer) => [forward(layer), backward(layer)]), ...batchNormLayers.map(fusedBatchNorm)];
