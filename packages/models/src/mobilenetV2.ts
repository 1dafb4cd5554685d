/**
 * MobileNetV2 (Sandler et al. 2018) in torchvision's structure, so parameter names are
 * torchvision's state-dict keys (`features.0.0.weight`, `features.2.conv.1.0.weight`,
 * `features.18.1.running_var`, `classifier.1.weight`) and a checkpoint loads with a strict key loop.
 * The paper's `t, c, n, s` table drives construction. Activations are NHWC; convs carry no bias (BN
 * follows each one); ReLU6 is fused into the BN kernel (it has no parameters, so the keys are unchanged).
 *
 * Flavours:
 *   - 'torchvision' (default): symmetric padding (1 for 3x3), BN eps 1e-5, momentum 0.1,
 *     block widths _make_divisible(c * alpha, 8).
 *   - 'keras': TF 'same' padding (asymmetric on stride-2 convs of even inputs; equivalent to Keras'
 *     ZeroPadding2D(correct_pad) + 'valid'), BN eps 1e-3, Keras momentum 0.999 (graft 0.001), block
 *     widths _make_divisible(int(c * alpha), 8). Same structure and names; weights load through importers/tfjsLayers.ts (loadKerasMobileNetV2).
 */
import type { Gpu, Padding } from '@graft/kernels';
import { addActivate, AutogradError, BatchNorm2d, Conv2d, Dropout, GlobalAvgPool, Linear, Module, Sequential, type Layer, type Tensor } from '@graft/autograd';

/** One row of the paper's table: expansion t, output channels c, repeats n, first stride s. */
export type InvertedResidualRow = readonly [t: number, c: number, n: number, s: number];

/** The paper's Table 2 (torchvision's inverted_residual_setting). */
export const mobileNetV2Table: readonly InvertedResidualRow[] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

export type MobileNetV2Flavour = 'torchvision' | 'keras';

/** torchvision's (and Keras') _make_divisible: nearest multiple of `divisor`, never below it nor more than 10% down. */
export function makeDivisible(v: number, divisor = 8, minValue = divisor): number {
  let rounded = Math.max(minValue, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

interface FlavourSpec {
  eps: number;
  momentum: number;
  /** Padding of a k x k conv at `stride`. */
  padding: (k: number, stride: number) => Padding;
  /** Block output channels from the table's c. */
  width: (c: number, alpha: number) => number;
}

const flavours: Record<MobileNetV2Flavour, FlavourSpec> = {
  torchvision: { eps: 1e-5, momentum: 0.1, padding: (k) => (k - 1) >> 1, width: (c, alpha) => makeDivisible(c * alpha, 8) },
  keras: { eps: 1e-3, momentum: 1 - 0.999, padding: () => 'same', width: (c, alpha) => makeDivisible(Math.trunc(c * alpha), 8) },
};

/** torchvision's Conv2dNormActivation: Sequential(conv (no bias), BN [+ fused ReLU6]) -> keys `.0.weight`, `.1.*`. */
function convBn(gpu: Gpu, spec: FlavourSpec, cIn: number, cOut: number, k: number, stride: number, relu6: boolean, depthwise = false): Sequential {
  const conv = new Conv2d(gpu, cIn, cOut, k, { stride, padding: spec.padding(k, stride), groups: depthwise ? cIn : 1, bias: false });
  const bn = new BatchNorm2d(gpu, cOut, { eps: spec.eps, momentum: spec.momentum, activation: relu6 ? 'relu6' : 'none' });
  return new Sequential(conv, bn);
}

/**
 * expand 1x1 + BN + ReLU6 (when t != 1), depthwise 3x3 stride s + BN + ReLU6, project 1x1 + BN
 * (linear bottleneck); the residual when stride is 1 and c_in == c_out. torchvision's `conv`
 * Sequential: [expand?, depthwise, project conv, project BN].
 */
export class InvertedResidual extends Module implements Layer {
  conv: Sequential;
  readonly useResidual: boolean;

  constructor(gpu: Gpu, cIn: number, cOut: number, stride: number, expandRatio: number, flavour: MobileNetV2Flavour = 'torchvision') {
    super();
    if (stride !== 1 && stride !== 2) throw new AutogradError(`InvertedResidual: stride must be 1 or 2, got ${stride}`);
    const spec = flavours[flavour];
    const hidden = Math.round(cIn * expandRatio);
    this.useResidual = stride === 1 && cIn === cOut;
    const layers: Layer[] = [];
    if (expandRatio !== 1) layers.push(convBn(gpu, spec, cIn, hidden, 1, 1, true));
    layers.push(convBn(gpu, spec, hidden, hidden, 3, stride, true, true));
    layers.push(new Conv2d(gpu, hidden, cOut, 1, { bias: false }));
    layers.push(new BatchNorm2d(gpu, cOut, { eps: spec.eps, momentum: spec.momentum }));
    this.conv = new Sequential(...layers);
  }

  forward(x: Tensor): Tensor {
    const y = this.conv.forward(x);
    return this.useResidual ? addActivate(y, x, 'none') : y;
  }
}

export interface MobileNetV2Options {
  /** Default 1000 (ImageNet). */
  numClasses?: number;
  /** false: no classifier; forward returns the pooled [n, numFeatures] features. Default true. */
  includeTop?: boolean;
  /** Width multiplier; default 1.0. */
  alpha?: number;
  /** The `t, c, n, s` rows; default the paper's (tiny tables make tiny test models). */
  table?: readonly InvertedResidualRow[];
  /** Default 'torchvision'. */
  flavour?: MobileNetV2Flavour;
  /** Classifier dropout (torchvision: 0.2). */
  dropout?: number;
}

export class MobileNetV2 extends Module implements Layer {
  features: Sequential;
  avgpool = new GlobalAvgPool();
  classifier: Sequential | null;
  /** Channels of the pooled features (what the classifier reads): 1280, or more when alpha > 1. */
  readonly numFeatures: number;
  readonly flavour: MobileNetV2Flavour;

  constructor(gpu: Gpu, options: MobileNetV2Options = {}) {
    super();
    const { numClasses = 1000, includeTop = true, alpha = 1.0, table = mobileNetV2Table, flavour = 'torchvision', dropout = 0.2 } = options;
    const spec = flavours[flavour];
    if (!spec) throw new AutogradError(`MobileNetV2: unknown flavour '${String(flavour)}' (known: ${Object.keys(flavours).join(', ')})`);
    if (!(alpha > 0)) throw new AutogradError(`MobileNetV2: alpha must be positive, got ${alpha}`);
    if (table.length === 0 || table.some((row) => row.length !== 4)) throw new AutogradError('MobileNetV2: table needs at least one [t, c, n, s] row');
    this.flavour = flavour;
    let cIn = makeDivisible(32 * alpha, 8);
    this.numFeatures = makeDivisible(1280 * Math.max(1.0, alpha), 8);
    const layers: Layer[] = [convBn(gpu, spec, 3, cIn, 3, 2, true)];
    for (const [t, c, n, s] of table) {
      const cOut = spec.width(c, alpha);
      for (let i = 0; i < n; i++) {
        layers.push(new InvertedResidual(gpu, cIn, cOut, i === 0 ? s : 1, t, flavour));
        cIn = cOut;
      }
    }
    layers.push(convBn(gpu, spec, cIn, this.numFeatures, 1, 1, true));
    this.features = new Sequential(...layers);
    this.classifier = includeTop ? new Sequential(new Dropout(dropout), new Linear(gpu, this.numFeatures, numClasses)) : null;
  }

  /** x [n, h, w, 3] -> pooled features [n, numFeatures]. */
  pooled(x: Tensor): Tensor {
    return this.avgpool.forward(this.features.forward(x));
  }

  /** x [n, h, w, 3] -> logits [n, numClasses], or the pooled features without a top. */
  forward(x: Tensor): Tensor {
    const pooled = this.pooled(x);
    return this.classifier ? this.classifier.forward(pooled) : pooled;
  }
}

/** torchvision's mobilenet_v2(): alpha 1.0, the paper's table, 1000 classes unless told. */
export function mobilenetV2(gpu: Gpu, options: MobileNetV2Options = {}): MobileNetV2 {
  return new MobileNetV2(gpu, options);
}
