/**
 * ResNet (He et al. 2015) in torchvision's structure: the same fields, so parameter names are
 * torchvision's state-dict keys (`layer4.1.conv2.weight`, `layer2.0.downsample.0.weight`) and a
 * checkpoint loads with a strict key loop. Bottleneck is torchvision's "v1.5": the stride sits on
 * the 3x3 conv, not the first 1x1. Activations are NHWC; BN eps 1e-5; convs carry no bias (BN
 * follows each one).
 */
import type { Gpu } from '@graft/kernels';
import {
  addActivate,
  AutogradError,
  BatchNorm2d,
  convBatchNorm,
  Conv2d,
  GlobalAvgPool,
  Linear,
  MaxPool2d,
  Module,
  ReLU,
  Sequential,
  type Layer,
  type Tensor,
} from '@graft/autograd';

const bnEps = 1e-5;
const conv3x3 = (gpu: Gpu, cIn: number, cOut: number, stride = 1) => new Conv2d(gpu, cIn, cOut, 3, { stride, padding: 1, bias: false });
const conv1x1 = (gpu: Gpu, cIn: number, cOut: number, stride = 1) => new Conv2d(gpu, cIn, cOut, 1, { stride, bias: false });
const batchNorm2d = (gpu: Gpu, c: number) => new BatchNorm2d(gpu, c, { eps: bnEps });

/** What both block kinds share: how _make_layer builds them. */
export interface BlockClass {
  readonly expansion: number;
  new (gpu: Gpu, inplanes: number, planes: number, stride?: number, downsample?: Sequential | null): Layer;
}

/** Two 3x3 convs and the shortcut: out = relu(bn2(conv2(relu(bn1(conv1(x))))) + identity). */
export class BasicBlock extends Module implements Layer {
  static readonly expansion = 1;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  relu = new ReLU();
  conv2: Conv2d;
  bn2: BatchNorm2d;
  downsample: Sequential | null;

  constructor(gpu: Gpu, inplanes: number, planes: number, stride = 1, downsample: Sequential | null = null) {
    super();
    this.conv1 = conv3x3(gpu, inplanes, planes, stride);
    this.bn1 = batchNorm2d(gpu, planes);
    this.conv2 = conv3x3(gpu, planes, planes);
    this.bn2 = batchNorm2d(gpu, planes);
    this.downsample = downsample;
  }

  forward(x: Tensor): Tensor {
    const identity = this.downsample ? this.downsample.forward(x) : x;
    let out = convBatchNorm(this.conv1, this.bn1, x, 'relu');
    out = convBatchNorm(this.conv2, this.bn2, out);
    // relu(out + identity) as one fused kernel: the same math as torchvision's `out += identity; relu(out)`.
    return addActivate(out, identity, 'relu');
  }
}

/** What a bottleneck's forward reads: torchvision's and Keras' blocks differ only in how these are built. */
export interface BottleneckLayers {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  conv3: Conv2d;
  bn3: BatchNorm2d;
  downsample: Layer | null;
}

/** 1x1 -> BN -> ReLU -> 3x3 -> BN -> ReLU -> 1x1 -> BN, plus the shortcut, then ReLU (fused into the add). */
export function bottleneckForward(b: BottleneckLayers, x: Tensor): Tensor {
  const identity = b.downsample ? b.downsample.forward(x) : x;
  // convBatchNorm: one fused pass per conv + frozen BN (+ ReLU) where no gradient is needed.
  let out = convBatchNorm(b.conv1, b.bn1, x, 'relu');
  out = convBatchNorm(b.conv2, b.bn2, out, 'relu');
  out = convBatchNorm(b.conv3, b.bn3, out);
  return addActivate(out, identity, 'relu');
}

/** 1x1 reduce, 3x3 (strided, v1.5), 1x1 expand by 4, and the shortcut. */
export class Bottleneck extends Module implements Layer {
  static readonly expansion = 4;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  conv3: Conv2d;
  bn3: BatchNorm2d;
  relu = new ReLU();
  downsample: Sequential | null;

  constructor(gpu: Gpu, inplanes: number, planes: number, stride = 1, downsample: Sequential | null = null) {
    super();
    const width = planes; // groups 1, base width 64: torchvision's width = planes
    this.conv1 = conv1x1(gpu, inplanes, width);
    this.bn1 = batchNorm2d(gpu, width);
    this.conv2 = conv3x3(gpu, width, width, stride);
    this.bn2 = batchNorm2d(gpu, width);
    this.conv3 = conv1x1(gpu, width, planes * Bottleneck.expansion);
    this.bn3 = batchNorm2d(gpu, planes * Bottleneck.expansion);
    this.downsample = downsample;
  }

  forward(x: Tensor): Tensor {
    return bottleneckForward(this, x);
  }
}

/** torchvision's table: block kind and blocks per stage. */
export const resnetConfigs = {
  resnet18: { block: BasicBlock, layers: [2, 2, 2, 2] },
  resnet34: { block: BasicBlock, layers: [3, 4, 6, 3] },
  resnet50: { block: Bottleneck, layers: [3, 4, 6, 3] },
  resnet101: { block: Bottleneck, layers: [3, 4, 23, 3] },
  resnet152: { block: Bottleneck, layers: [3, 8, 36, 3] },
} as const satisfies Record<string, { block: BlockClass; layers: readonly [number, number, number, number] }>;

export type ResNetName = keyof typeof resnetConfigs;

export interface ResNetOptions {
  /** Default 1000 (ImageNet). */
  numClasses?: number;
  /** false: no fc; forward returns the pooled [n, C] features. Default true. */
  includeTop?: boolean;
  /** Planes of layer1..layer4 (the stem has widths[0]); default torchvision's [64, 128, 256, 512]. */
  widths?: readonly [number, number, number, number];
}

/**
 * The trunk both ResNet flavours share (torchvision's and keras.applications'): stem, four stages,
 * pooling and an optional classifier, in torchvision's field order so parameter names and their
 * order match torchvision's state dict. Subclasses build the stem and stages their way.
 */
export abstract class ResNetTrunk extends Module implements Layer {
  conv1!: Conv2d;
  bn1!: BatchNorm2d;
  relu = new ReLU();
  maxpool = new MaxPool2d(3, 2, 1);
  layer1!: Sequential;
  layer2!: Sequential;
  layer3!: Sequential;
  layer4!: Sequential;
  avgpool = new GlobalAvgPool();
  fc: Linear | null = null;
  /** Channels of the pooled features (what fc reads); set by the subclass. */
  numFeatures = 0;

  /** conv1 -> bn1 -> ReLU -> max pool (one fused pass plus the pool where no gradient is needed). */
  stem(x: Tensor): Tensor {
    return this.maxpool.forward(convBatchNorm(this.conv1, this.bn1, x, 'relu'));
  }

  /** x [n, h, w, 3] -> pooled features [n, numFeatures]. */
  features(x: Tensor): Tensor {
    let y = this.stem(x);
    y = this.layer4.forward(this.layer3.forward(this.layer2.forward(this.layer1.forward(y))));
    return this.avgpool.forward(y);
  }

  /** x [n, h, w, 3] -> logits [n, numClasses] (pre-softmax), or the pooled features without a top. */
  forward(x: Tensor): Tensor {
    const pooled = this.features(x);
    return this.fc ? this.fc.forward(pooled) : pooled;
  }
}

export class ResNet extends ResNetTrunk {
  private inplanes: number;

  constructor(
    gpu: Gpu,
    block: BlockClass,
    layers: readonly [number, number, number, number] | readonly number[],
    options: ResNetOptions = {},
  ) {
    super();
    const { numClasses = 1000, includeTop = true, widths = [64, 128, 256, 512] } = options;
    if (layers.length !== 4 || widths.length !== 4) throw new AutogradError(`ResNet: layers and widths need 4 stages, got [${layers.join(', ')}] and [${widths.join(', ')}]`);
    this.inplanes = widths[0];
    this.conv1 = new Conv2d(gpu, 3, widths[0], 7, { stride: 2, padding: 3, bias: false });
    this.bn1 = batchNorm2d(gpu, widths[0]);
    this.layer1 = this.makeLayer(gpu, block, widths[0], layers[0]!, 1);
    this.layer2 = this.makeLayer(gpu, block, widths[1], layers[1]!, 2);
    this.layer3 = this.makeLayer(gpu, block, widths[2], layers[2]!, 2);
    this.layer4 = this.makeLayer(gpu, block, widths[3], layers[3]!, 2);
    this.numFeatures = widths[3] * block.expansion;
    this.fc = includeTop ? new Linear(gpu, this.numFeatures, numClasses) : null;
  }

  /** A stage: the first block changes stride/width (with a 1x1 conv + BN shortcut when it must), the rest keep them. */
  private makeLayer(gpu: Gpu, block: BlockClass, planes: number, blocks: number, stride: number): Sequential {
    const outChannels = planes * block.expansion;
    const downsample =
      stride !== 1 || this.inplanes !== outChannels ? new Sequential(conv1x1(gpu, this.inplanes, outChannels, stride), batchNorm2d(gpu, outChannels)) : null;
    const first = new block(gpu, this.inplanes, planes, stride, downsample);
    this.inplanes = outChannels;
    const rest = Array.from({ length: blocks - 1 }, () => new block(gpu, outChannels, planes));
    return new Sequential(first, ...rest);
  }
}

/** A torchvision-named ResNet (`resnet18`, ..., `resnet152`). */
export function resnet(gpu: Gpu, name: ResNetName, options: ResNetOptions = {}): ResNet {
  const config = resnetConfigs[name];
  if (!config) throw new AutogradError(`resnet: unknown model '${String(name)}' (known: ${Object.keys(resnetConfigs).join(', ')})`);
  return new ResNet(gpu, config.block, config.layers, options);
}
