/**
 * VGG (Simonyan & Zisserman 2014) in torchvision's structure, so parameter names are torchvision's
 * state-dict keys: `features.N.weight` / `features.N.bias` for each 3x3 conv (pad 1, with bias; a
 * ReLU follows at N+1 and a 2x2/2 max pool takes one index per 'M'), and `classifier.0`, `.3`, `.6`
 * for the three Linear layers (ReLU + Dropout between them, at 1, 2, 4, 5). Activations are NHWC.
 *
 * avgpool: torchvision's AdaptiveAvgPool2d((7, 7)) is the identity when the feature map is already
 * 7x7, which is the case for 224x224 inputs (five 2x2 pools: 224 / 32 = 7). graft does not implement
 * adaptive pooling: with includeTop the feature map must already be 7x7 (224-style inputs, or
 * 7 * 2^pools for a custom config) and anything else is an error naming the size. Without a top,
 * `pooling` chooses what forward returns (Keras' `pooling` argument): 'avg' global average [n, C],
 * 'max' global max [n, C], 'none' the unpooled map flattened [n, h * w * C].
 *
 * Flatten order: graft flattens NHWC as (h, w, c); torchvision flattens NCHW as (c, h, w). A
 * torchvision `classifier.0.weight` [4096, 25088] therefore needs its columns permuted
 * (`chwColumnsToHwc`): VGG marks it with `markFlattenedInput`, so loadTorchStateDict permutes it on load
 * and torchStateDict permutes it back on export; the conv weights go through the usual OIHW -> HWIO.
 */
import type { Gpu } from '@graft/kernels';
import { AutogradError, Conv2d, Dropout, Flatten, GlobalAvgPool, Linear, maxPool2dOp, MaxPool2d, Module, ReLU, Sequential, flatten, type Layer, type Tensor } from '@graft/autograd';
import { markFlattenedInput } from './importers/torchLayout.js';

/** A config entry: a 3x3 conv's output channels, or 'M' for a 2x2/2 max pool. */
export type VggEntry = number | 'M';

/** torchvision's cfgs: 'A' vgg11, 'B' vgg13, 'D' vgg16, 'E' vgg19. */
export const vggConfigs = {
  A: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  B: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  D: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  E: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
} as const satisfies Record<string, readonly VggEntry[]>;

export type VggName = 'vgg11' | 'vgg13' | 'vgg16' | 'vgg19';
const configOf: Record<VggName, keyof typeof vggConfigs> = { vgg11: 'A', vgg13: 'B', vgg16: 'D', vgg19: 'E' };

export type VggPooling = 'avg' | 'max' | 'none';

export interface VggOptions {
  /** Default 1000 (ImageNet). */
  numClasses?: number;
  /** false: no classifier; forward returns the features pooled by `pooling`. Default true. */
  includeTop?: boolean;
  /** Without a top: 'avg' (default), 'max', or 'none' (the unpooled map, flattened). */
  pooling?: VggPooling;
  /** Width of the two hidden classifier layers; default 4096 (small values make tiny test models). */
  hidden?: number;
  /** Classifier dropout; default 0.5 (torchvision). */
  dropout?: number;
  /** Spatial size the classifier expects (torchvision's adaptive pool target); default 7. */
  poolSize?: number;
}

/**
 * torchvision's `avgpool` slot: AdaptiveAvgPool2d((s, s)) restricted to inputs already s x s, where
 * it is the identity. No parameters, so it changes no names.
 */
export class AdaptiveAvgPoolIdentity extends Module implements Layer {
  constructor(readonly size: number) {
    super();
  }

  forward(x: Tensor): Tensor {
    const [, h, w] = x.shape;
    if (h !== this.size || w !== this.size) {
      throw new AutogradError(
        `VGG avgpool: graft needs a ${this.size}x${this.size} feature map here (adaptive pooling is not implemented), got ${h}x${w}; ` +
          `use 224x224 inputs, or includeTop: false with pooling 'avg' | 'max' | 'none'`,
      );
    }
    return x;
  }
}

/** [n, h, w, c] -> [n, c]: the max over h and w (Keras' GlobalMaxPooling2D). */
export class GlobalMaxPool extends Module implements Layer {
  forward(x: Tensor): Tensor {
    const [, h, w] = x.shape;
    return flatten(maxPool2dOp(x, { kernelSize: [h!, w!] }));
  }
}

/** torchvision's make_layers (without batch norm): conv 3x3 pad 1 + ReLU per number, MaxPool 2x2/2 per 'M'. */
export function vggFeatures(gpu: Gpu, config: readonly VggEntry[], inChannels = 3): Sequential {
  const layers: Layer[] = [];
  let c = inChannels;
  for (const v of config) {
    if (v === 'M') layers.push(new MaxPool2d(2, 2, 0));
    else {
      layers.push(new Conv2d(gpu, c, v, 3, { padding: 1 }), new ReLU());
      c = v;
    }
  }
  return new Sequential(...layers);
}

/** Output channels of a config's last conv. */
function lastWidth(config: readonly VggEntry[]): number {
  const convs = config.filter((v): v is number => v !== 'M');
  if (convs.length === 0) throw new AutogradError('VGG: the config needs at least one conv');
  return convs.at(-1)!;
}

/** Parameters of a VGG from its table (torchvision's count: vgg16 at 1000 classes = 138,357,544). */
export function vggParameterCount(config: readonly VggEntry[], { numClasses = 1000, includeTop = true, hidden = 4096, poolSize = 7 } = {}): number {
  let c = 3;
  let count = 0;
  for (const v of config) {
    if (v === 'M') continue;
    count += 9 * c * v + v;
    c = v;
  }
  if (includeTop) {
    const flat = c * poolSize * poolSize;
    count += flat * hidden + hidden + hidden * hidden + hidden + hidden * numClasses + numClasses;
  }
  return count;
}

export class VGG extends Module implements Layer {
  features: Sequential;
  avgpool: Layer;
  classifier: Sequential | null;
  /** What forward returns without a top: [n, C] for 'avg'/'max'; with a top, the classifier's input width. */
  readonly numFeatures: number;

  constructor(gpu: Gpu, config: readonly VggEntry[], options: VggOptions = {}) {
    super();
    const { numClasses = 1000, includeTop = true, pooling = 'avg', hidden = 4096, dropout = 0.5, poolSize = 7 } = options;
    const c = lastWidth(config);
    this.features = vggFeatures(gpu, config);
    if (includeTop) {
      this.avgpool = new AdaptiveAvgPoolIdentity(poolSize);
      this.numFeatures = c * poolSize * poolSize;
      const first = new Linear(gpu, this.numFeatures, hidden);
      // torchvision's weights read an NCHW flatten; the loader permutes them to graft's NHWC flatten.
      markFlattenedInput(first, [c, poolSize, poolSize]);
      this.classifier = new Sequential(
        first,
        new ReLU(),
        new Dropout(dropout),
        new Linear(gpu, hidden, hidden),
        new ReLU(),
        new Dropout(dropout),
        new Linear(gpu, hidden, numClasses),
      );
    } else {
      if (pooling === 'avg') this.avgpool = new GlobalAvgPool();
      else if (pooling === 'max') this.avgpool = new GlobalMaxPool();
      else if (pooling === 'none') this.avgpool = new Flatten();
      else throw new AutogradError(`VGG: pooling must be 'avg', 'max' or 'none', got '${String(pooling)}'`);
      this.numFeatures = c; // 'none': c * h * w, which depends on the input size
      this.classifier = null;
    }
  }

  /** x [n, h, w, 3] -> logits [n, numClasses]; without a top, the pooled (or flattened) features. */
  forward(x: Tensor): Tensor {
    const y = this.avgpool.forward(this.features.forward(x));
    return this.classifier ? this.classifier.forward(flatten(y)) : y;
  }
}

/** A torchvision-named VGG (`vgg11`, `vgg13`, `vgg16`, `vgg19`; no batch norm). */
export function vgg(gpu: Gpu, name: VggName, options: VggOptions = {}): VGG {
  const key = configOf[name];
  if (!key) throw new AutogradError(`vgg: unknown model '${String(name)}' (known: ${Object.keys(configOf).join(', ')})`);
  return new VGG(gpu, vggConfigs[key], options);
}

export const vgg16 = (gpu: Gpu, options: VggOptions = {}): VGG => vgg(gpu, 'vgg16', options);
export const vgg19 = (gpu: Gpu, options: VggOptions = {}): VGG => vgg(gpu, 'vgg19', options);
