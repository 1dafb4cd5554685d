/**
 * conv2d cases: ResNet-50 / MobileNetV2-shaped layers at batch 8, NHWC activations, HWIO weights (the
 * layout both sides use). Forward is y = relu(conv(x, w) + bias) (a conv+BN layer with BN folded);
 * backward is dx + dweight from dy. tfjs runs its fused conv2d forward and the Conv2DBackpropInput /
 * Conv2DBackpropFilter kernels that tf.grad of tf.conv2d calls.
 * graft pads the 3x3 layers explicitly by 1 and the stem TF-'same'; for stride 1 with a 3x3 kernel
 * 'same' is exactly pad 1, so tfjs uses 'same' throughout.
 */
import { conv2d, conv2dBackward, conv2dGeometry, type Conv2dOptions, type Gpu } from '@graft/kernels';
import type { KernelBenchCase, Tf } from '../case.js';
import { uniformData } from '../data.js';

const f32 = 4;
const batch = 8;

interface Layer {
  size: number;
  k: number;
  stride: number;
  cIn: number;
  cOut: number;
  padding: Conv2dOptions['padding'];
}

function dims(layer: Layer) {
  const { size, k, cIn, cOut } = layer;
  const g = conv2dGeometry('bench', [batch, size, size, cIn], [k, k, cIn, cOut], { stride: layer.stride, padding: layer.padding });
  const ySize = batch * g.hOut * g.wOut * cOut;
  return { g, xSize: batch * size * size * cIn, wSize: k * k * cIn * cOut, ySize, macs: ySize * k * k * cIn };
}

function label({ size, k, stride, cIn, cOut }: Layer): string {
  return `conv ${k}x${k}${stride > 1 ? `/${stride}` : ''} ${size}x${size}x${cIn}->${cOut} b${batch}`;
}

function forward(layer: Layer): KernelBenchCase {
  const { size, k, stride, cIn, cOut, padding } = layer;
  const d = dims(layer);
  return {
    kernel: 'conv2d',
    label: `${label(layer)} +bias+relu`,
    direction: 'forward',
    flops: 2 * d.macs,
    bytes: f32 * (d.xSize + d.wSize + cOut + d.ySize),
    graft(gpu: Gpu) {
      const x = gpu.upload(uniformData(1, d.xSize), [batch, size, size, cIn]);
      const w = gpu.upload(uniformData(2, d.wSize), [k, k, cIn, cOut]);
      const bias = gpu.upload(uniformData(3, cOut), [cOut]);
      return {
        run: () => conv2d(gpu, x, w, { stride, padding, bias, activation: 'relu' }),
        dispose: () => gpu.release(x, w, bias),
      };
    },
    tfjs(tf: Tf) {
      const x = tf.tensor4d(uniformData(1, d.xSize), [batch, size, size, cIn]);
      const w = tf.tensor4d(uniformData(2, d.wSize), [k, k, cIn, cOut]);
      const bias = tf.tensor1d(uniformData(3, cOut));
      return {
        run: () => tf.fused.conv2d({ x, filter: w, strides: stride, pad: 'same', bias, activation: 'relu' }),
        dispose: () => tf.dispose([x, w, bias]),
      };
    },
  };
}

function backward(layer: Layer): KernelBenchCase {
  const { size, k, stride, cIn, cOut, padding } = layer;
  const d = dims(layer);
  return {
    kernel: 'conv2d',
    label: `${label(layer)} dx+dW`,
    direction: 'backward',
    flops: 2 * (2 * d.macs),
    // dx reads dy and w and writes dx; dW reads dy and x and writes dW.
    bytes: f32 * (d.ySize + d.wSize + d.xSize) + f32 * (d.ySize + d.xSize + d.wSize),
    graft(gpu: Gpu) {
      const x = gpu.upload(uniformData(1, d.xSize), [batch, size, size, cIn]);
      const w = gpu.upload(uniformData(2, d.wSize), [k, k, cIn, cOut]);
      const dy = gpu.upload(uniformData(4, d.ySize), [batch, d.g.hOut, d.g.wOut, cOut]);
      return {
        run: () => {
          const { dx, dweight } = conv2dBackward(gpu, dy, x, w, { stride, padding }, { x: true, weight: true });
          return [dx!, dweight!];
        },
        dispose: () => gpu.release(x, w, dy),
      };
    },
    tfjs(tf: Tf) {
      const x = tf.tensor4d(uniformData(1, d.xSize), [batch, size, size, cIn]);
      const w = tf.tensor4d(uniformData(2, d.wSize), [k, k, cIn, cOut]);
      const dy = tf.tensor4d(uniformData(4, d.ySize), [batch, d.g.hOut, d.g.wOut, cOut]);
      const attrs = { strides: stride, pad: 'same' as const, dataFormat: 'NHWC' as const };
      return {
        run: () => [
          tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x.shape }) as ReturnType<Tf['zeros']>,
          tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape }) as ReturnType<Tf['zeros']>,
        ],
        dispose: () => tf.dispose([x, w, dy]),
      };
    },
  };
}

const layers: Layer[] = [
  { size: 224, k: 7, stride: 2, cIn: 3, cOut: 64, padding: 'same' },
  { size: 56, k: 3, stride: 1, cIn: 64, cOut: 64, padding: 1 },
  { size: 28, k: 3, stride: 1, cIn: 128, cOut: 128, padding: 1 },
  { size: 14, k: 3, stride: 1, cIn: 256, cOut: 256, padding: 1 },
  { size: 7, k: 3, stride: 1, cIn: 512, cOut: 512, padding: 1 },
  { size: 56, k: 1, stride: 1, cIn: 64, cOut: 256, padding: 'valid' },
  { size: 56, k: 1, stride: 1, cIn: 256, cOut: 64, padding: 'valid' },
  { size: 14, k: 1, stride: 1, cIn: 1024, cOut: 256, padding: 'valid' },
  { size: 7, k: 1, stride: 1, cIn: 320, cOut: 1280, padding: 'valid' },
  // MobileNetV2 projections to <= 32 channels: matmul's main_narrow entry point.
  { size: 112, k: 1, stride: 1, cIn: 32, cOut: 16, padding: 'valid' },
  { size: 56, k: 1, stride: 1, cIn: 144, cOut: 24, padding: 'valid' },
];

export const cases: KernelBenchCase[] = layers.flatMap((layer) => [forward(layer), backward(layer)]);
