/**
 * The preprocessing a checkpoint was trained with, as data plus one pure function over NHWC f32 RGB
 * pixels in [0, 255]. Which mode applies is a property of where the weights came from, not of the
 * architecture: the same MobileNetV2 wants x/127.5 - 1 with Keras weights and ImageNet mean/std with
 * torchvision's. Resizing and cropping are recorded (`resize`, `crop`, `interpolation`), not performed
 * here: image decoding belongs to the CLI.
 */

export type WeightsOrigin = 'torchvision' | 'keras-mobilenet' | 'keras-resnet' | 'keras-vgg' | 'timm' | 'huggingface';

export type Interpolation = 'bilinear' | 'bicubic' | 'nearest';

export interface Preprocessing {
  /** A short name: 'keras-mobilenet' | 'keras-caffe' | 'torchvision' | 'torchvision-v2' | 'timm'. */
  name: string;
  /** 'rgb' keeps channel order; 'bgr' reverses it before the mean is subtracted (Caffe). */
  channelOrder: 'rgb' | 'bgr';
  /** Applied first: x * scale. */
  scale: number;
  /** Subtracted per channel after scaling (in the output channel order). */
  mean: [number, number, number];
  /** Divided per channel after the mean. */
  std: [number, number, number];
  /** Shorter side resized to this before cropping (recorded, not performed here). */
  resize: number;
  /** Center crop size (recorded, not performed here). */
  crop: number;
  interpolation: Interpolation;
}

/** Keras MobileNet ('tf' mode): x / 127.5 - 1. */
export const kerasMobileNet: Preprocessing = {
  name: 'keras-mobilenet',
  channelOrder: 'rgb',
  scale: 1 / 127.5,
  mean: [1, 1, 1],
  std: [1, 1, 1],
  resize: 224,
  crop: 224,
  interpolation: 'bilinear',
};

/** Keras ResNet / VGG ('caffe' mode): RGB -> BGR, subtract the BGR ImageNet mean, no scaling. */
export const kerasCaffe: Preprocessing = {
  name: 'keras-caffe',
  channelOrder: 'bgr',
  scale: 1,
  mean: [103.939, 116.779, 123.68],
  std: [1, 1, 1],
  resize: 224,
  crop: 224,
  interpolation: 'bilinear',
};

/** torchvision's ImageNet transform (V1 weights): resize 256, center crop 224, x/255, mean/std. */
export const torchvision: Preprocessing = {
  name: 'torchvision',
  channelOrder: 'rgb',
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  resize: 256,
  crop: 224,
  interpolation: 'bilinear',
};

/** torchvision's IMAGENET1K_V2 weights: the same normalisation, resize 232 -> crop 224. */
export const torchvisionV2: Preprocessing = { ...torchvision, name: 'torchvision-v2', resize: 232 };

/** A timm pretrained_cfg (the fields used here). */
export interface TimmPretrainedCfg {
  mean: readonly number[];
  std: readonly number[];
  /** [c, h, w]. */
  input_size: readonly number[];
  crop_pct?: number;
  interpolation?: string;
}

/** timm: resize = floor(crop / crop_pct), crop = input_size's height, x/255 then mean/std. */
export function timmPreprocessing(cfg: TimmPretrainedCfg): Preprocessing {
  const triple = (v: readonly number[], what: string): [number, number, number] => {
    if (v.length !== 3 || !v.every(Number.isFinite)) throw new Error(`timmPreprocessing: ${what} must be 3 finite numbers, got ${JSON.stringify(v)}`);
    return [v[0]!, v[1]!, v[2]!];
  };
  if (cfg.input_size.length !== 3) throw new Error(`timmPreprocessing: input_size must be [c, h, w], got ${JSON.stringify(cfg.input_size)}`);
  const crop = cfg.input_size[1]!;
  const cropPct = cfg.crop_pct ?? 0.875;
  const interpolation = (['bilinear', 'bicubic', 'nearest'] as const).find((i) => i === cfg.interpolation) ?? 'bicubic';
  return {
    name: 'timm',
    channelOrder: 'rgb',
    scale: 1 / 255,
    mean: triple(cfg.mean, 'mean'),
    std: triple(cfg.std, 'std'),
    resize: Math.floor(crop / cropPct),
    crop,
    interpolation,
  };
}

/** A Hugging Face image processor config (preprocessor_config.json; the fields used here). */
export interface HfPreprocessorConfig {
  image_mean?: readonly number[];
  image_std?: readonly number[];
  /** 224, or { shortest_edge: 224 } in newer files. */
  size?: number | { shortest_edge?: number; height?: number };
  crop_pct?: number;
  /** PIL resample code: 0 nearest, 2 bilinear, 3 bicubic. */
  resample?: number;
  rescale_factor?: number;
}

/**
 * Hugging Face's ConvNext-style processor (what microsoft/resnet-* ship): resize the shorter side to
 * size / crop_pct, center crop `size`, x * rescale_factor, mean/std. Defaults are that processor's.
 */
export function hfPreprocessing(cfg: HfPreprocessorConfig = {}): Preprocessing {
  const size = typeof cfg.size === 'number' ? cfg.size : (cfg.size?.shortest_edge ?? cfg.size?.height ?? 224);
  const cropPct = cfg.crop_pct ?? 0.875;
  const triple = (v: readonly number[] | undefined, fallback: [number, number, number], what: string): [number, number, number] => {
    if (v === undefined) return fallback;
    if (v.length !== 3 || !v.every(Number.isFinite)) throw new Error(`hfPreprocessing: ${what} must be 3 finite numbers, got ${JSON.stringify(v)}`);
    return [v[0]!, v[1]!, v[2]!];
  };
  const interpolation: Interpolation = cfg.resample === 0 ? 'nearest' : cfg.resample === 2 ? 'bilinear' : 'bicubic';
  return {
    name: 'huggingface',
    channelOrder: 'rgb',
    scale: cfg.rescale_factor ?? 1 / 255,
    mean: triple(cfg.image_mean, [0.485, 0.456, 0.406], 'image_mean'),
    std: triple(cfg.image_std, [0.229, 0.224, 0.225], 'image_std'),
    resize: Math.floor(size / cropPct),
    crop: size,
    interpolation,
  };
}

/** timm's default pretrained_cfg for ImageNet models (mobilenetv2_100 and the ResNets use it). */
export const timmDefaultCfg: TimmPretrainedCfg = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], input_size: [3, 224, 224], crop_pct: 0.875, interpolation: 'bicubic' };

/**
 * Applies `p` to NHWC RGB pixels in [0, 255] (length a multiple of 3); returns a new array:
 * out[c] = (x[src(c)] * scale - mean[c]) / std[c], src reversing the channels for 'bgr'.
 */
export function preprocess(p: Preprocessing, pixels: Float32Array): Float32Array {
  if (pixels.length % 3 !== 0) throw new Error(`preprocess (${p.name}): ${pixels.length} values is not a whole number of RGB pixels`);
  const out = new Float32Array(pixels.length);
  const bgr = p.channelOrder === 'bgr';
  for (let i = 0; i < pixels.length; i += 3) {
    for (let c = 0; c < 3; c++) {
      const x = pixels[i + (bgr ? 2 - c : c)]!;
      out[i + c] = (x * p.scale - p.mean[c]!) / p.std[c]!;
    }
  }
  return out;
}

/** The preprocessing the weights' origin implies. timm needs the checkpoint's pretrained_cfg. */
export function preprocessingFor(origin: WeightsOrigin, timmCfg?: TimmPretrainedCfg, hfCfg?: HfPreprocessorConfig): Preprocessing {
  switch (origin) {
    case 'torchvision':
      return torchvision;
    case 'keras-mobilenet':
      return kerasMobileNet;
    case 'keras-resnet':
    case 'keras-vgg':
      return kerasCaffe;
    case 'huggingface':
      return hfPreprocessing(hfCfg);
    case 'timm':
      if (!timmCfg) throw new Error("preprocessingFor('timm'): timm weights need their pretrained_cfg (mean, std, input_size, crop_pct)");
      return timmPreprocessing(timmCfg);
    default:
      throw new Error(`preprocessingFor: unknown weights origin '${String(origin)}' (known: torchvision, keras-mobilenet, keras-resnet, keras-vgg, timm, huggingface)`);
  }
}

/** Whether two preprocessings do the same thing to pixels (names aside). */
export function samePreprocessing(a: Preprocessing, b: Preprocessing): boolean {
  return (
    a.channelOrder === b.channelOrder &&
    a.scale === b.scale &&
    a.resize === b.resize &&
    a.crop === b.crop &&
    a.interpolation === b.interpolation &&
    a.mean.every((v, i) => v === b.mean[i]) &&
    a.std.every((v, i) => v === b.std[i])
  );
}

/**
 * The origin's preprocessing, or `override` when given. An override that differs from what the
 * weights were trained with is allowed (the user may know better) but warned about, naming both.
 */
export function resolvePreprocessing(
  origin: WeightsOrigin,
  override?: Preprocessing,
  { warn = console.warn, timmCfg, hfCfg }: { warn?: (message: string) => void; timmCfg?: TimmPretrainedCfg; hfCfg?: HfPreprocessorConfig } = {},
): Preprocessing {
  const native = preprocessingFor(origin, timmCfg, hfCfg);
  if (!override) return native;
  if (!samePreprocessing(native, override)) {
    warn(`preprocessing '${override.name}' overrides '${native.name}', which the ${origin} weights were trained with; predictions may be wrong`);
  }
  return override;
}
