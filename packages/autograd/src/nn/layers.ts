/**
 * The layers: compositions of the ops with PyTorch's names and defaults and no backward of their
 * own. Weights use graft's layouts (Conv2d HWIO [k_h, k_w, c_in, c_out], depthwise [k_h, k_w, c],
 * Linear PyTorch's [out, in]); importers transpose other layouts onto these names.
 */
import { unary, type Activation, type Gpu, type Padding } from '@graft/kernels';
import { AutogradError } from '../errors.js';
import { conv2dOp, depthwiseConv2dOp } from '../ops/conv.js';
import { dropout } from '../ops/dropout.js';
import { activate } from '../ops/elementwise.js';
import { linear } from '../ops/linear.js';
import { batchNorm, batchNormModes, type BatchNormMode } from '../ops/norm.js';
import { globalAvgPoolOp, maxPool2dOp } from '../ops/pool.js';
import { flatten } from '../ops/shape.js';
import type { Tensor } from '../tensor.js';
import { constant, defaultSeed, seededRandom, uniformParameter } from './init.js';
import { convBatchNorm } from './fusion.js';
import { copyInto, Module, type Layer } from './module.js';

export interface Conv2dOptions {
  stride?: number | readonly [number, number];
  /** 'valid' (default, PyTorch's 0), 'same' (TensorFlow's), a number, or [top, bottom, left, right]. */
  padding?: Padding;
  dilation?: number | readonly [number, number];
  /** 1 (dense) or inChannels == outChannels (depthwise); other group counts are not supported. */
  groups?: number;
  bias?: boolean;
  /** Fused after the bias (conv+relu in one kernel). */
  activation?: Activation;
  seed?: number;
}

export class Conv2d extends Module implements Layer {
  weight: Tensor;
  bias: Tensor | null;
  readonly depthwise: boolean;

  constructor(
    gpu: Gpu,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number | readonly [number, number],
    readonly options: Conv2dOptions = {},
  ) {
    super();
    const { groups = 1, bias = true } = options;
    const [kH, kW] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    this.depthwise = groups !== 1;
    if (this.depthwise && !(groups === inChannels && groups === outChannels)) {
      throw new AutogradError(`Conv2d: groups must be 1 or equal inChannels and outChannels (depthwise), got groups ${groups} for ${inChannels} -> ${outChannels}`);
    }
    if (this.depthwise && options.dilation !== undefined && options.dilation !== 1) {
      throw new AutogradError('Conv2d: dilation is not supported for depthwise convolutions');
    }
    const random = seededRandom(options.seed ?? defaultSeed());
    const fanIn = (inChannels / groups) * kH * kW;
    const bound = 1 / Math.sqrt(fanIn);
    this.weight = uniformParameter(gpu, this.depthwise ? [kH, kW, inChannels] : [kH, kW, inChannels, outChannels], bound, random);
    this.bias = bias ? uniformParameter(gpu, [outChannels], bound, random) : null;
  }

  forward(x: Tensor): Tensor {
    const { stride, padding, dilation, activation } = this.options;
    const bias = this.bias ?? undefined;
    return this.depthwise
      ? depthwiseConv2dOp(x, this.weight, { bias, stride, padding, activation })
      : conv2dOp(x, this.weight, { bias, stride, padding, dilation, activation });
  }
}

export interface BatchNorm2dOptions {
  eps?: number;
  /** PyTorch's convention (0.1); Keras' momentum m is 1 - m here. */
  momentum?: number;
  /** Keep a num_batches_tracked buffer (torchvision checkpoints carry one). Default true. */
  trackNumBatches?: boolean;
  activation?: Activation;
  /** See BatchNorm2d.bnMode. */
  bnMode?: BatchNormMode | null;
}

export class BatchNorm2d extends Module implements Layer {
  weight: Tensor;
  bias: Tensor;
  // Buffers are stored under PyTorch's state-dict keys (running_mean, ...) so torchvision checkpoints
  // load with a strict key loop; the camelCase accessors below are how TypeScript code reads them.
  declare running_mean: Tensor;
  declare running_var: Tensor;
  declare num_batches_tracked?: Tensor;
  /**
   * null follows `training` (train() -> batch statistics, eval() -> running statistics, like
   * 'frozen'). An explicit mode wins over train()/eval(): the fix for the PyTorch trap where
   * model.train() silently unfreezes the BN statistics of a fine-tuned backbone.
   */
  bnMode: BatchNormMode | null;

  constructor(
    gpu: Gpu,
    readonly numFeatures: number,
    readonly options: BatchNorm2dOptions = {},
  ) {
    super();
    this.weight = constant(gpu, [numFeatures], 1, true);
    this.bias = constant(gpu, [numFeatures], 0, true);
    this.registerBuffer('running_mean', constant(gpu, [numFeatures], 0, false));
    this.registerBuffer('running_var', constant(gpu, [numFeatures], 1, false));
    if (options.trackNumBatches ?? true) this.registerBuffer('num_batches_tracked', constant(gpu, [1], 0, false));
    const mode = options.bnMode ?? null;
    if (mode !== null && !batchNormModes.includes(mode)) throw new AutogradError(`BatchNorm2d: bnMode must be one of ${batchNormModes.join(', ')} or null, got ${String(mode)}`);
    this.bnMode = mode;
  }

  get runningMean(): Tensor {
    return this.running_mean;
  }

  get runningVar(): Tensor {
    return this.running_var;
  }

  get numBatchesTracked(): Tensor | undefined {
    return this.num_batches_tracked;
  }

  /** The mode the next forward runs in. */
  get effectiveMode(): BatchNormMode {
    return this.bnMode ?? (this.training ? 'train' : 'frozen');
  }

  forward(x: Tensor): Tensor {
    const mode = this.effectiveMode;
    const y = batchNorm(
      x,
      { gamma: this.weight, beta: this.bias, runningMean: this.runningMean, runningVar: this.runningVar },
      { mode, eps: this.options.eps, momentum: this.options.momentum, activation: this.options.activation },
    );
    if (mode === 'train' && this.num_batches_tracked) {
      // Counted on the GPU (a float: exact up to 2^24 batches), so a step never flushes for it.
      const next = unary(x.gpu, 'affine', this.num_batches_tracked.data, 1, 1);
      copyInto(this.num_batches_tracked, next);
      x.gpu.release(next);
    }
    return y;
  }
}

export class Linear extends Module implements Layer {
  weight: Tensor;
  bias: Tensor | null;

  constructor(
    gpu: Gpu,
    readonly inFeatures: number,
    readonly outFeatures: number,
    readonly options: { bias?: boolean; activation?: Activation; seed?: number } = {},
  ) {
    super();
    const random = seededRandom(options.seed ?? defaultSeed());
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = uniformParameter(gpu, [outFeatures, inFeatures], bound, random);
    this.bias = (options.bias ?? true) ? uniformParameter(gpu, [outFeatures], bound, random) : null;
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias ?? undefined, this.options.activation);
  }
}

export class ReLU extends Module implements Layer {
  forward(x: Tensor): Tensor {
    return activate(x, 'relu');
  }
}

export class ReLU6 extends Module implements Layer {
  forward(x: Tensor): Tensor {
    return activate(x, 'relu6');
  }
}

/** Active only while training; each training forward uses `seed` and then advances it. */
export class Dropout extends Module implements Layer {
  constructor(
    readonly p = 0.5,
    public seed = 0,
  ) {
    super();
    if (!(p >= 0 && p < 1)) throw new AutogradError(`Dropout: p must be in [0, 1), got ${p}`);
  }

  forward(x: Tensor): Tensor {
    if (!this.training) return x;
    const y = dropout(x, this.p, this.seed, true);
    this.seed = (this.seed + 1) >>> 0;
    return y;
  }
}

/** [n, h, w, c] -> [n, c]. */
export class GlobalAvgPool extends Module implements Layer {
  forward(x: Tensor): Tensor {
    return globalAvgPoolOp(x);
  }
}

/** A window max over NHWC activations (no parameters), like nn.MaxPool2d. */
export class MaxPool2d extends Module implements Layer {
  constructor(
    readonly kernelSize: number,
    readonly stride: number,
    readonly padding: Padding,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return maxPool2dOp(x, { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding });
  }
}

/** [n, ...] -> [n, prod(...)]. */
export class Flatten extends Module implements Layer {
  forward(x: Tensor): Tensor {
    return flatten(x);
  }
}

/** Children named '0', '1', ... (torchvision's `features.18.0.weight`). */
export class Sequential extends Module implements Layer {
  constructor(...layers: Layer[]) {
    super();
    layers.forEach((layer, i) => this.registerModule(String(i), layer));
  }

  get length(): number {
    return this.children().length;
  }

  at(i: number): Layer {
    const layer = this.children().at(i);
    if (!layer) throw new AutogradError(`Sequential: no layer ${i} (it has ${this.length})`);
    return layer as Layer;
  }

  /** Runs the layers in order; a Conv2d directly followed by a BatchNorm2d goes through convBatchNorm (fused when frozen and gradient-free). */
  forward(x: Tensor): Tensor {
    const layers = this.children() as unknown as Layer[];
    let y = x;
    for (let i = 0; i < layers.length; i++) {
      const [layer, next] = [layers[i]!, layers[i + 1]];
      if (layer instanceof Conv2d && next instanceof BatchNorm2d) {
        y = convBatchNorm(layer, next, y);
        i++;
      } else {
        y = layer.forward(y);
      }
    }
    return y;
  }
}
