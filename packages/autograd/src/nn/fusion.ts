/**
 * Conv -> frozen BatchNorm [-> activation] as ONE kernel pass: the norm's per-channel scale and shift
 * (from its running statistics) are applied in the convolution's epilogue, so the convolution's
 * output is written once instead of written, read, normalised and written again. Measured on
 * MobileNetV2 inference (docs/performance.md): the 52 batch-norm passes were ~14% of the GPU time.
 *
 * Fused only where nothing is lost: the norm runs on running statistics ('frozen' — what eval() and
 * frozen backbones use) and no gradient will be asked of this step (grad off, or neither the input
 * nor the convolution's parameters require one), so there is no backward to write. Everything else
 * (training, fine-tuning through the block) takes the unfused ops, which keep their graphs.
 * A bias-free convolution gives bit-identical results fused or not (the kernels compute
 * fma(sum, scale, shift) either way); a convolution with a bias folds it into the norm's mean
 * (see epilogue), equal to the unfused result up to f32 rounding.
 */
import { batchNormScaleShift, binary, conv2d, depthwiseConv2d, type Activation, type GpuTensor } from '@graft/kernels';
import { activate } from '../ops/elementwise.js';
import { isGradEnabled, record } from '../tape.js';
import type { Tensor } from '../tensor.js';
import { AutogradError } from '../errors.js';
import type { BatchNorm2d, Conv2d } from './layers.js';

/** Switches for the fused paths; tests and benchmarks turn them off to compare with the unfused ops. */
export const fusion = { convBatchNorm: true };

/** The single activation to fuse, or null when both the norm and the caller want one (not fused). */
function combinedActivation(bnActivation: Activation, then: Activation): Activation | null {
  if (bnActivation === 'none') return then;
  return then === 'none' ? bnActivation : null;
}

function fusable(conv: Conv2d, bn: BatchNorm2d, x: Tensor, then: Activation): boolean {
  if (!fusion.convBatchNorm || bn.effectiveMode !== 'frozen') return false;
  if ((conv.options.activation ?? 'none') !== 'none') return false;
  if (combinedActivation(bn.options.activation ?? 'none', then) === null) return false;
  const needsGraph = isGradEnabled() && (x.requiresGrad || conv.weight.requiresGrad || !!conv.bias?.requiresGrad);
  return !needsGraph;
}

/**
 * The [2, C] scale/shift of the frozen norm. A convolution bias b is folded in as a shifted mean:
 * bn(s + b) = gamma * (s - (mean - b)) * invstd + beta.
 */
function epilogue(conv: Conv2d, bn: BatchNorm2d): GpuTensor {
  const gpu = bn.weight.gpu;
  const shiftedMean = conv.bias ? binary(gpu, 'sub', bn.runningMean.data, conv.bias.data) : null;
  const params = { gamma: bn.weight.data, beta: bn.bias.data, runningMean: shiftedMean ?? bn.runningMean.data, runningVar: bn.runningVar.data };
  const { scaleShift, invstd } = batchNormScaleShift(gpu, params, { eps: bn.options.eps });
  gpu.release(invstd, shiftedMean);
  return scaleShift;
}

/**
 * bn(conv(x)) followed by `then` (e.g. a ResNet's separate ReLU module), fused into one pass when the
 * conditions above hold, else exactly the unfused modules' ops.
 */
export function convBatchNorm(conv: Conv2d, bn: BatchNorm2d, x: Tensor, then: Activation = 'none'): Tensor {
  if (conv.outChannels !== bn.numFeatures) {
    throw new AutogradError(`convBatchNorm: the convolution makes ${conv.outChannels} channels, the batch norm expects ${bn.numFeatures}`);
  }
  if (!fusable(conv, bn, x, then)) {
    const y = bn.forward(conv.forward(x));
    return then === 'none' ? y : activate(y, then);
  }
  const gpu = x.gpu;
  const activation = combinedActivation(bn.options.activation ?? 'none', then)!;
  const scaleShift = epilogue(conv, bn);
  const { stride, padding, dilation } = conv.options;
  const y = conv.depthwise
    ? depthwiseConv2d(gpu, x.data, conv.weight.data, { stride, padding, scaleShift, activation })
    : conv2d(gpu, x.data, conv.weight.data, { stride, padding, dilation, scaleShift, activation });
  gpu.release(scaleShift);
  const inputs = conv.bias ? [x, conv.weight, conv.bias] : [x, conv.weight];
  // No input needs a gradient here (fusable), so the tape keeps no backward; the node only lets
  // noGrad and releaseGraph free this output's inputs.
  return record(gpu, `conv+batchNorm(frozen)${activation === 'none' ? '' : `+${activation}`}`, inputs, y, () => {
    throw new AutogradError('convBatchNorm: a fused pass has no backward (it is only taken when no gradient is needed)');
  });
}
