/**
 * Pooling cases at batch 8: global average pooling at the head of ResNet-50 (7x7x2048) and
 * MobileNetV2 (7x7x1280), and the ResNet stem's 3x3 stride-2 TF-'same' max pool on 112x112x64.
 * tfjs: tf.mean(x, [1, 2]) and tf.maxPool. tf.grads cannot run here (tfjs-core's Node bundle
 * registers no gradient functions), so the tfjs backward is what its gradients would run:
 *   mean:    dy reshaped to [n, 1, 1, c], times ones(x.shape), divided by h*w (Mean_grad's composition);
 *   maxPool: the MaxPoolGrad kernel (what maxPool's gradient calls), through tf.engine().runKernel.
 */
import { globalAvgPool, globalAvgPoolBackward, maxPool2d, maxPool2dBackward, maxPool2dWithArgmax, type Gpu, type MaxPool2dOptions } from '@graft/kernels';
import type { KernelBenchCase, Tf } from '../case.js';
import { uniformData } from '../data.js';

const f32 = 4;
const batch = 8;

type Tensor4D = ReturnType<Tf['tensor4d']>;

function gapForward(size: number, c: number): KernelBenchCase {
  const xSize = batch * size * size * c;
  return {
    kernel: 'globalAvgPool',
    label: `globalAvgPool ${size}x${size}x${c} b${batch}`,
    direction: 'forward',
    flops: xSize + batch * c, // one add per input, one scale per output
    bytes: f32 * (xSize + batch * c),
    graft(gpu: Gpu) {
      const x = gpu.upload(uniformData(1, xSize), [batch, size, size, c]);
      return { run: () => globalAvgPool(gpu, x), dispose: () => gpu.release(x) };
    },
    tfjs(tf: Tf) {
      const x = tf.tensor4d(uniformData(1, xSize), [batch, size, size, c]);
      return { run: () => tf.mean(x, [1, 2]), dispose: () => tf.dispose(x) };
    },
  };
}

function gapBackward(size: number, c: number): KernelBenchCase {
  const xSize = batch * size * size * c;
  const xShape = [batch, size, size, c] as const;
  return {
    kernel: 'globalAvgPool',
    label: `globalAvgPool ${size}x${size}x${c} b${batch} dx`,
    direction: 'backward',
    flops: xSize,
    bytes: f32 * (batch * c + xSize),
    graft(gpu: Gpu) {
      const dy = gpu.upload(uniformData(2, batch * c), [batch, c]);
      return { run: () => globalAvgPoolBackward(gpu, dy, xShape), dispose: () => gpu.release(dy) };
    },
    tfjs(tf: Tf) {
      const dy = tf.tensor2d(uniformData(2, batch * c), [batch, c]);
      return {
        run: () => tf.tidy(() => tf.div(tf.mul(tf.reshape(dy, [batch, 1, 1, c]), tf.ones([...xShape])), size * size)),
        dispose: () => tf.dispose(dy),
      };
    },
  };
}

const stem = { size: 112, c: 64 };
const stemOptions: MaxPool2dOptions = { kernelSize: 3, stride: 2, padding: 'same' };
const stemOut = 56;
const stemIn = batch * stem.size * stem.size * stem.c;
const stemOutSize = batch * stemOut * stemOut * stem.c;
const stemLabel = `maxPool 3x3/2 same ${stem.size}x${stem.size}x${stem.c} b${batch}`;

function maxPoolForward(withArgmax: boolean): KernelBenchCase {
  return {
    kernel: 'maxPool2d',
    label: withArgmax ? `${stemLabel} (+argmax, training)` : stemLabel,
    direction: 'forward',
    flops: 9 * stemOutSize, // one comparison per window cell
    bytes: f32 * (stemIn + stemOutSize * (withArgmax ? 2 : 1)),
    graft(gpu: Gpu) {
      const x = gpu.upload(uniformData(1, stemIn), [batch, stem.size, stem.size, stem.c]);
      return {
        run: () => {
          if (!withArgmax) return maxPool2d(gpu, x, stemOptions);
          const { y, argmax } = maxPool2dWithArgmax(gpu, x, stemOptions);
          gpu.release(argmax); // already encoded; the finiteness check reads f32 outputs only
          return y;
        },
        dispose: () => gpu.release(x),
      };
    },
    tfjs(tf: Tf) {
      const x = tf.tensor4d(uniformData(1, stemIn), [batch, stem.size, stem.size, stem.c]);
      return { run: () => tf.maxPool(x, 3, 2, 'same'), dispose: () => tf.dispose(x) };
    },
  };
}

function maxPoolBackward(): KernelBenchCase {
  return {
    kernel: 'maxPool2d',
    label: `${stemLabel} dx`,
    direction: 'backward',
    flops: 9 * stemOutSize, // each input compares against the argmax of the windows covering it
    bytes: f32 * (2 * stemOutSize + stemIn), // dy and argmax read, dx written
    graft(gpu: Gpu) {
      const x = gpu.upload(uniformData(1, stemIn), [batch, stem.size, stem.size, stem.c]);
      const { y, argmax } = maxPool2dWithArgmax(gpu, x, stemOptions);
      const dy = gpu.upload(uniformData(2, stemOutSize), y.shape);
      return { run: () => maxPool2dBackward(gpu, dy, argmax, x.shape, stemOptions), dispose: () => gpu.release(x, y, argmax, dy) };
    },
    tfjs(tf: Tf) {
      const x = tf.tensor4d(uniformData(1, stemIn), [batch, stem.size, stem.size, stem.c]);
      const y = tf.maxPool(x, 3, 2, 'same');
      const dy = tf.tensor4d(uniformData(2, stemOutSize), [batch, stemOut, stemOut, stem.c]);
      const attrs = { filterSize: [3, 3], strides: [2, 2], pad: 'same' };
      return {
        run: () => tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, attrs) as Tensor4D,
        dispose: () => tf.dispose([x, y, dy]),
      };
    },
  };
}

export const cases: KernelBenchCase[] = [
  gapForward(7, 2048),
  gapBackward(7, 2048),
  gapForward(7, 1280),
  gapBackward(7, 1280),
  maxPoolForward(false),
  maxPoolForward(true),
  maxPoolBackward(),
];
