/**
 * ResNet-50/101/152 in keras.applications' structure (ResNet v1, `keras.applications.resnet`):
 *   ZeroPadding2D(3) + conv1_conv 7x7/2 'valid' (with bias) + conv1_bn + ReLU, ZeroPadding2D(1) + MaxPool 3x3/2 'valid';
 *   four stacks (conv2..conv5) of bottleneck blocks whose STRIDE IS ON THE FIRST 1x1 conv (v1, not torchvision's
 *   v1.5), every conv with a bias, every BN eps 1.001e-5 (Keras momentum 0.99 = graft momentum 0.01); the first
 *   block of each stack always has a 1x1 conv + BN shortcut (`_0_conv`, `_0_bn`); avg_pool; predictions (Dense).
 * Explicit zero padding + 'valid' equals a symmetric padding of the conv (3 for the stem, 1 for the 3x3s). The
 * max-pool's zero padding equals graft's -inf padding because its input comes out of a ReLU (>= 0) and every
 * window holds at least one real value.
 *
 * graft field names are torchvision-like: conv1, bn1, layer1..layer4 (Sequentials of KerasBottleneck with
 * conv1/bn1, conv2/bn2, conv3/bn3, downsample = Sequential(conv, bn)), fc. `kerasResNetName` is the one place
 * Keras weight names map onto them; `loadKerasResNet` converts layouts (conv kernels are HWIO already; the Dense
 * kernel [in, out] -> [out, in]) and loads through the strict key loop. forward returns logits (Keras'
 * `predictions` applies softmax on top of them).
 */
import type { Gpu } from '@graft/kernels';
import {
  AutogradError,
  BatchNorm2d,
  Conv2d,
  Linear,
  Module,
  ReLU,
  Sequential,
  type HostEntry,
  type Layer,
  type LoadResult,
  type Tensor,
} from '@graft/autograd';
import { bottleneckForward, ResNetTrunk } from './resnet.js';

/** Keras' BatchNormalization epsilon in keras.applications ResNet. */
export const kerasResNetBnEps = 1.001e-5;
const kerasMomentum = 1 - 0.99;
const bn = (gpu: Gpu, c: number) => new BatchNorm2d(gpu, c, { eps: kerasResNetBnEps, momentum: kerasMomentum });

/** Keras' bottleneck (v1): 1x1 (strided) -> 3x3 'same' -> 1x1 x4, all with bias, plus the shortcut. */
export class KerasBottleneck extends Module implements Layer {
  static readonly expansion = 4;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  conv3: Conv2d;
  bn3: BatchNorm2d;
  relu = new ReLU();
  downsample: Sequential | null;

  constructor(gpu: Gpu, inplanes: number, filters: number, stride = 1, convShortcut = false) {
    super();
    const out = filters * KerasBottleneck.expansion;
    this.conv1 = new Conv2d(gpu, inplanes, filters, 1, { stride, bias: true });
    this.bn1 = bn(gpu, filters);
    this.conv2 = new Conv2d(gpu, filters, filters, 3, { padding: 1, bias: true });
    this.bn2 = bn(gpu, filters);
    this.conv3 = new Conv2d(gpu, filters, out, 1, { bias: true });
    this.bn3 = bn(gpu, out);
    if (!convShortcut && (stride !== 1 || inplanes !== out)) throw new AutogradError(`KerasBottleneck: an identity shortcut needs stride 1 and ${out} input channels, got stride ${stride}, ${inplanes} channels`);
    this.downsample = convShortcut ? new Sequential(new Conv2d(gpu, inplanes, out, 1, { stride, bias: true }), bn(gpu, out)) : null;
  }

  forward(x: Tensor): Tensor {
    return bottleneckForward(this, x);
  }
}

/** keras.applications' blocks per stack. */
export const kerasResNetConfigs = {
  resnet50: [3, 4, 6, 3],
  resnet101: [3, 4, 23, 3],
  resnet152: [3, 8, 36, 3],
} as const satisfies Record<string, readonly [number, number, number, number]>;

export type KerasResNetVariant = keyof typeof kerasResNetConfigs;

export interface KerasResNetOptions {
  /** Default 'resnet50'. */
  variant?: KerasResNetVariant;
  /** Default 1000 (ImageNet). */
  numClasses?: number;
  /** false: no predictions layer; forward returns the pooled [n, C] features. Default true. */
  includeTop?: boolean;
  /** Filters of stacks conv2..conv5 (the stem has widths[0]); default Keras' [64, 128, 256, 512]. */
  widths?: readonly [number, number, number, number];
  /** Blocks per stack; overrides the variant's (tiny test models). */
  blocks?: readonly [number, number, number, number];
}

export class KerasResNet extends ResNetTrunk {
  readonly variant: KerasResNetVariant;

  constructor(gpu: Gpu, options: KerasResNetOptions = {}) {
    super();
    const { variant = 'resnet50', numClasses = 1000, includeTop = true, widths = [64, 128, 256, 512] } = options;
    const config = kerasResNetConfigs[variant];
    if (!config) throw new AutogradError(`KerasResNet: unknown variant '${String(variant)}' (known: ${Object.keys(kerasResNetConfigs).join(', ')})`);
    const blocks = options.blocks ?? config;
    if (blocks.length !== 4 || widths.length !== 4 || blocks.some((b) => !(b >= 1))) {
      throw new AutogradError(`KerasResNet: blocks and widths need 4 stacks (>= 1 block each), got [${blocks.join(', ')}] and [${widths.join(', ')}]`);
    }
    this.variant = variant;
    this.conv1 = new Conv2d(gpu, 3, widths[0], 7, { stride: 2, padding: 3, bias: true });
    this.bn1 = bn(gpu, widths[0]);
    let inplanes = widths[0];
    const stack = (filters: number, n: number, stride: number) => {
      const first = new KerasBottleneck(gpu, inplanes, filters, stride, true);
      inplanes = filters * KerasBottleneck.expansion;
      return new Sequential(first, ...Array.from({ length: n - 1 }, () => new KerasBottleneck(gpu, inplanes, filters)));
    };
    this.layer1 = stack(widths[0], blocks[0], 1);
    this.layer2 = stack(widths[1], blocks[1], 2);
    this.layer3 = stack(widths[2], blocks[2], 2);
    this.layer4 = stack(widths[3], blocks[3], 2);
    this.numFeatures = inplanes;
    this.fc = includeTop ? new Linear(gpu, inplanes, numClasses) : null;
  }

}

/** keras.applications ResNet50 / ResNet101 / ResNet152 in graft. */
export function kerasResNet(gpu: Gpu, options: KerasResNetOptions = {}): KerasResNet {
  return new KerasResNet(gpu, options);
}

const bnFields: Record<string, string> = { gamma: 'weight', beta: 'bias', moving_mean: 'running_mean', moving_variance: 'running_var' };

/**
 * A Keras ResNet weight name (`conv2_block1_1_conv/kernel`, `conv3_block2_3_bn/moving_variance`,
 * `predictions/bias`; a trailing `:0` is ignored) -> graft's name, or undefined when it is not one:
 *   conv1_conv / conv1_bn -> conv1 / bn1; convS_blockB_0_conv / _0_bn -> layer(S-1).(B-1).downsample.0 / .1;
 *   convS_blockB_K_conv / _K_bn (K = 1..3) -> layer(S-1).(B-1).convK / bnK; predictions -> fc.
 * Fields: kernel -> weight, bias -> bias; gamma, beta, moving_mean, moving_variance -> weight, bias, running_mean, running_var.
 */
export function kerasResNetName(kerasName: string): string | undefined {
  const m = /^([A-Za-z0-9_]+)\/([a-z_]+)(?::\d+)?$/.exec(kerasName);
  if (!m) return undefined;
  const [, layer, field] = m as unknown as [string, string, string];
  const convField = field === 'kernel' ? 'weight' : field === 'bias' ? 'bias' : undefined;
  if (layer === 'predictions') return convField && `fc.${convField}`;
  let prefix: string;
  let kind: 'conv' | 'bn';
  if (layer === 'conv1_conv' || layer === 'conv1_bn') {
    kind = layer === 'conv1_conv' ? 'conv' : 'bn';
    prefix = kind === 'conv' ? 'conv1' : 'bn1';
  } else {
    const b = /^conv([2-5])_block([1-9][0-9]*)_([0-3])_(conv|bn)$/.exec(layer);
    if (!b) return undefined;
    const [, s, blk, k, which] = b as unknown as [string, string, string, string, 'conv' | 'bn'];
    kind = which;
    const base = `layer${Number(s) - 1}.${Number(blk) - 1}`;
    prefix = k === '0' ? `${base}.downsample.${kind === 'conv' ? 0 : 1}` : `${base}.${kind}${k}`;
  }
  const f = kind === 'conv' ? convField : bnFields[field];
  return f && `${prefix}.${f}`;
}

/** [in, out] -> [out, in]. */
function transpose2d(w: HostEntry, name: string): HostEntry {
  if (w.shape.length !== 2) throw new AutogradError(`loadKerasResNet: '${name}' has shape [${w.shape.join(', ')}], not a Dense kernel [in, out]`);
  const [i, o] = w.shape as [number, number];
  const out = new Float32Array(w.data.length);
  for (let a = 0; a < i; a++) for (let b = 0; b < o; b++) out[b * i + a] = w.data[a * o + b]!;
  return { data: out, shape: [o, i] };
}

/**
 * Keras ResNet tensors -> graft names and layouts (conv kernels stay HWIO; the Dense kernel is transposed;
 * each BN gets num_batches_tracked = 0). Names outside the mapping keep their Keras names in `unmapped`.
 */
export function kerasResNetToGraft(tensors: Map<string, HostEntry>): { mapped: Map<string, HostEntry>; unmapped: string[] } {
  const mapped = new Map<string, HostEntry>();
  const unmapped: string[] = [];
  for (const [name, entry] of tensors) {
    const target = kerasResNetName(name);
    if (!target) {
      unmapped.push(name);
      continue;
    }
    if (mapped.has(target)) throw new AutogradError(`loadKerasResNet: '${name}' maps onto '${target}', which another weight already filled`);
    mapped.set(target, target === 'fc.weight' ? transpose2d(entry, name) : entry);
    if (target.endsWith('.running_var')) mapped.set(target.replace(/running_var$/, 'num_batches_tracked'), { data: new Float32Array(1), shape: [1] });
  }
  return { mapped, unmapped };
}

/**
 * Loads keras.applications ResNet weights (from readKerasH5 or readTfjsLayersModel: Keras names, Keras
 * layouts) into a KerasResNet. Strict by default: weights outside the mapping keep their Keras names, so a
 * strict load throws naming them (and any missing or mis-shaped graft tensor); a non-strict one lists them.
 */
export function loadKerasResNet(model: Module, kerasTensors: Map<string, HostEntry>, { strict = true }: { strict?: boolean } = {}): LoadResult {
  const { mapped, unmapped } = kerasResNetToGraft(kerasTensors);
  for (const name of unmapped) mapped.set(name, kerasTensors.get(name)!);
  return model.loadStateDict(mapped, { strict });
}
