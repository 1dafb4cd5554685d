/**
 * `--model` + `--weights` -> a backbone without its top, its pretrained weights loaded, and the
 * preprocessing those weights were trained with. The flavour follows the weights: a Keras file
 * (.h5, TF.js) builds the Keras flavour (TF-'same' padding, Keras BN eps; keras.applications' ResNet
 * structure), anything PyTorch-shaped the torchvision one.
 */
import { Module, type Layer } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import {
  detectWeightsFormat,
  kerasResNet,
  loadPretrained,
  mobilenetV2,
  resnet,
  torchvision,
  vgg,
  type Preprocessing,
  type ResNetName,
  type VggName,
  type WeightsFormat,
} from '@graft/models';
import { resolveWeightsPath } from './builtinWeights.js';

export const modelNames = ['mobilenet_v2', 'resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152', 'vgg16', 'vgg19'] as const;
export type ModelName = (typeof modelNames)[number];

export class ModelChoiceError extends Error {
  override name = 'ModelChoiceError';
}

export interface BackboneOptions {
  model: ModelName;
  /** A weights file or folder, a built-in name ('nsfwjs'), or 'none' (random initialisation). */
  weights: string;
  /** MobileNetV2 width multiplier (default 1.0). */
  alpha?: number;
  /** Use this instead of the weights' own preprocessing (warned about when it differs). */
  preprocessing?: Preprocessing;
  warn?: (message: string) => void;
}

export interface LoadedBackbone {
  backbone: Module & Layer;
  model: ModelName;
  flavour: 'torchvision' | 'keras';
  /** Width of the pooled features the head reads. */
  numFeatures: number;
  preprocessing: Preprocessing;
  weights: string;
  format: WeightsFormat | 'none';
}

/** Weights the checkpoint may carry beyond the backbone: its own classifier, which a new head replaces. */
const topKeys = [/^(fc|classifier)\./, /^(Logits|predictions|fc1|fc2|flatten|dense(_\d+)?)\//];

const kerasFormats: readonly WeightsFormat[] = ['keras-h5', 'tfjs-layers'];

function build(gpu: Gpu, model: ModelName, keras: boolean, alpha: number | undefined): Module & Layer {
  if (model === 'mobilenet_v2') return mobilenetV2(gpu, { includeTop: false, flavour: keras ? 'keras' : 'torchvision', alpha });
  if (alpha !== undefined && alpha !== 1) throw new ModelChoiceError(`--alpha applies to mobilenet_v2 only (got --model ${model})`);
  if (model.startsWith('resnet')) {
    if (!keras) return resnet(gpu, model as ResNetName, { includeTop: false });
    if (model === 'resnet18' || model === 'resnet34') throw new ModelChoiceError(`keras.applications has no ${model}; Keras weights fit resnet50, resnet101 or resnet152`);
    return kerasResNet(gpu, { variant: model as 'resnet50' | 'resnet101' | 'resnet152', includeTop: false });
  }
  return vgg(gpu, model as VggName, { includeTop: false, pooling: 'avg' });
}

/** Builds the backbone for `options.model` and loads `options.weights` into it. */
export async function loadBackbone(gpu: Gpu, options: BackboneOptions): Promise<LoadedBackbone> {
  const { model, alpha, warn = console.warn } = options;
  if (!(modelNames as readonly string[]).includes(model)) {
    throw new ModelChoiceError(`unknown --model '${model}' (expected one of: ${modelNames.join(', ')})`);
  }
  if (options.weights === 'none') {
    const backbone = build(gpu, model, false, alpha);
    warn(`--weights none: ${model} starts from random weights; transfer learning needs pretrained ones`);
    return { backbone, model, flavour: 'torchvision', numFeatures: featureWidth(backbone), preprocessing: options.preprocessing ?? torchvision, weights: 'none', format: 'none' };
  }
  const path = resolveWeightsPath(options.weights);
  const format = detectWeightsFormat(path);
  const keras = kerasFormats.includes(format);
  const backbone = build(gpu, model, keras, alpha);
  try {
    const loaded = await loadPretrained(backbone, path, { strict: false, preprocessing: options.preprocessing, warn });
    const { missingKeys, unexpectedKeys, misShapedKeys = [] } = loaded.result;
    const foreign = unexpectedKeys.filter((k) => !topKeys.some((re) => re.test(k)));
    if (missingKeys.length > 0 || misShapedKeys.length > 0 || foreign.length > 0) {
      const parts = [
        missingKeys.length > 0 ? `missing ${missingKeys.length} (${missingKeys.slice(0, 3).join(', ')}${missingKeys.length > 3 ? ', …' : ''})` : '',
        misShapedKeys.length > 0 ? `mis-shaped ${misShapedKeys.length} (${misShapedKeys.slice(0, 2).join('; ')}${misShapedKeys.length > 2 ? '; …' : ''})` : '',
        foreign.length > 0 ? `unexpected ${foreign.length} (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''})` : '',
      ].filter(Boolean);
      throw new ModelChoiceError(`${path}: the weights do not fit --model ${model}${alpha ? ` --alpha ${alpha}` : ''}: ${parts.join('; ')}`);
    }
    return { backbone, model, flavour: keras ? 'keras' : 'torchvision', numFeatures: featureWidth(backbone), preprocessing: loaded.preprocessing, weights: path, format };
  } catch (e) {
    backbone.release();
    throw e;
  }
}

function featureWidth(backbone: Module): number {
  const width = (backbone as unknown as { numFeatures?: number }).numFeatures;
  if (!width) throw new ModelChoiceError(`${backbone.constructor.name} does not say how wide its features are`);
  return width;
}
