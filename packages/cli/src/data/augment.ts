/**
 * Seeded training augmentation, in two halves: `drawAugment` turns options into concrete draws for
 * one image (a pure function of seed, epoch and the sample's index, so any sample of any epoch is
 * reproducible whatever the worker scheduling or resume point), and `applyPixelAugment` applies the
 * flip/rotation/zoom/colour part of those draws to decoded pixels. The random resized crop is
 * resolved against the image's size by `resolveCrop` and performed by sharp in decode.ts, before the
 * image is scaled to the model's size, so it keeps the source's resolution.
 *
 * Yardsticks: flip, rotation and zoom act like Keras' RandomFlip('horizontal'), RandomRotation and
 * RandomZoom layers: on the model-sized image, about its centre, the same size out. Areas that come
 * from outside the image are filled white (the same white alpha is flattened onto), not Keras'
 * default reflection. The crop is torchvision's RandomResizedCrop; brightness and contrast are
 * torchvision's ColorJitter factors (brightness first, then contrast).
 */
import { randomFor, streams } from './random.js';

export interface AugmentOptions {
  /** Mirror left-right with probability 1/2. */
  flip?: boolean;
  /** Rotate by an angle drawn uniformly from [-rotation, rotation] degrees (positive: counter-clockwise). */
  rotation?: number;
  /** Show a region whose side is a factor drawn from [1 - zoom, 1 + zoom] of the image's: above 1 zooms out, below 1 in. */
  zoom?: number;
  /** Crop a region of `scale` (fraction of the area) and `ratio` (width / height, drawn log-uniformly), then resize it to the model's size. */
  randomResizedCrop?: { scale: [number, number]; ratio: [number, number] };
  /** Multiply pixel values by a factor drawn from [max(0, 1 - brightness), 1 + brightness]. */
  brightness?: number;
  /** Scale the distance from the image's mean grey level by a factor drawn from [max(0, 1 - contrast), 1 + contrast]. */
  contrast?: number;
}

/** torchvision's RandomResizedCrop defaults. */
export const defaultRandomResizedCrop = { scale: [0.08, 1] as [number, number], ratio: [3 / 4, 4 / 3] as [number, number] };

/** One crop attempt: an area fraction and aspect ratio, and where in the free range to place it (0..1). */
export interface CropAttempt {
  area: number;
  aspect: number;
  x: number;
  y: number;
}

/** The concrete draws for one image. The identity is { flip: false, rotation: 0, zoom: 1, brightness: 1, contrast: 1 }. */
export interface AugmentParams {
  flip: boolean;
  /** Degrees, counter-clockwise. */
  rotation: number;
  /** Side of the shown region over the image's side. */
  zoom: number;
  brightness: number;
  contrast: number;
  crop?: { attempts: CropAttempt[]; ratio: [number, number] };
}

export class AugmentError extends Error {
  override name = 'AugmentError';
}

export const identityAugment: AugmentParams = { flip: false, rotation: 0, zoom: 1, brightness: 1, contrast: 1 };

/** torchvision draws up to 10 crops before falling back to a centre crop. */
const cropAttempts = 10;

/** Throws an AugmentError naming the first option outside its range. */
export function checkAugmentOptions(o: AugmentOptions): void {
  const nonNegative = (name: string, v: number | undefined, below = Infinity) => {
    if (v !== undefined && !(v >= 0 && v < below)) throw new AugmentError(`augmentation ${name} must be in [0, ${below}), got ${v}`);
  };
  nonNegative('rotation', o.rotation, 360);
  nonNegative('zoom', o.zoom, 1);
  nonNegative('brightness', o.brightness);
  nonNegative('contrast', o.contrast);
  const crop = o.randomResizedCrop;
  if (crop) {
    const [s0, s1] = crop.scale;
    const [r0, r1] = crop.ratio;
    if (!(s0 > 0 && s0 <= s1 && s1 <= 1)) throw new AugmentError(`randomResizedCrop scale must satisfy 0 < min <= max <= 1, got [${s0}, ${s1}]`);
    if (!(r0 > 0 && r0 <= r1 && Number.isFinite(r1))) throw new AugmentError(`randomResizedCrop ratio must satisfy 0 < min <= max, got [${r0}, ${r1}]`);
  }
}

/**
 * The draws for sample `index` in `epoch`. Every field is drawn, in a fixed order, whether or not it
 * is enabled, so turning one augmentation on does not change what the others draw.
 */
export function drawAugment(options: AugmentOptions, seed: number, epoch: number, index: number): AugmentParams {
  const random = randomFor(streams.augment, seed, epoch, index);
  const between = (lo: number, hi: number) => lo + (hi - lo) * random();
  const flip = random() < 0.5;
  const rotation = between(-1, 1) * (options.rotation ?? 0);
  const zoom = 1 + between(-1, 1) * (options.zoom ?? 0);
  const brightness = factor(random(), options.brightness ?? 0);
  const contrast = factor(random(), options.contrast ?? 0);
  const params: AugmentParams = { flip: flip && options.flip === true, rotation, zoom, brightness, contrast };
  const crop = options.randomResizedCrop ?? defaultRandomResizedCrop;
  const [logLo, logHi] = [Math.log(crop.ratio[0]), Math.log(crop.ratio[1])];
  const attempts = Array.from({ length: cropAttempts }, () => ({
    area: between(crop.scale[0], crop.scale[1]),
    aspect: Math.exp(between(logLo, logHi)),
    x: random(),
    y: random(),
  }));
  if (options.randomResizedCrop) params.crop = { attempts, ratio: crop.ratio };
  return params;
}

function factor(u: number, amount: number): number {
  const lo = Math.max(0, 1 - amount);
  return lo + (1 + amount - lo) * u;
}

/** torchvision's RandomResizedCrop.get_params on a width x height image: the first attempt that fits, else a centre crop. */
export function resolveCrop(
  crop: NonNullable<AugmentParams['crop']>,
  width: number,
  height: number,
): { left: number; top: number; width: number; height: number } {
  for (const a of crop.attempts) {
    const w = Math.round(Math.sqrt(width * height * a.area * a.aspect));
    const h = Math.round(Math.sqrt((width * height * a.area) / a.aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      // x, y in [0, 1) pick one of the width - w + 1 (height - h + 1) positions, as torch.randint does.
      const left = Math.min(width - w, Math.floor(a.x * (width - w + 1)));
      const top = Math.min(height - h, Math.floor(a.y * (height - h + 1)));
      return { left, top, width: w, height: h };
    }
  }
  const inRatio = width / height;
  let [w, h] = [width, height];
  if (inRatio < crop.ratio[0]) h = Math.max(1, Math.min(height, Math.round(w / crop.ratio[0])));
  else if (inRatio > crop.ratio[1]) w = Math.max(1, Math.min(width, Math.round(h * crop.ratio[1])));
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}

const fill = 255;

/** Applies flip, rotation, zoom, brightness and contrast to HWC RGB uint8 pixels; returns a new array. */
export function applyPixelAugment(pixels: Uint8Array, h: number, w: number, p: AugmentParams): Uint8Array {
  let out = p.flip || p.rotation !== 0 || p.zoom !== 1 ? warp(pixels, h, w, p) : pixels.slice();
  if (p.brightness !== 1 || p.contrast !== 1) out = adjustColour(out, p.brightness, p.contrast);
  return out;
}

/**
 * Each output pixel samples the source bilinearly at the inverse of: mirror, rotate, scale by
 * 1/zoom, all about the image centre. Samples outside the image take the fill value.
 */
function warp(src: Uint8Array, h: number, w: number, p: AugmentParams): Uint8Array {
  const out = new Uint8Array(src.length);
  const theta = (p.rotation * Math.PI) / 180;
  const [cos, sin] = [Math.cos(theta), Math.sin(theta)];
  const [cx, cy] = [w / 2, h / 2];
  const taps = [0, 0, 0, 0];
  const weights = [0, 0, 0, 0];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Output offset from the centre, scaled back to source units, un-rotated (y points down), un-mirrored.
      const dx = (x + 0.5 - cx) * p.zoom;
      const dy = (y + 0.5 - cy) * p.zoom;
      const rx = cos * dx - sin * dy;
      const u = (p.flip ? -rx : rx) + cx - 0.5;
      const v = sin * dx + cos * dy + cy - 0.5;
      const x0 = Math.floor(u);
      const y0 = Math.floor(v);
      const fx = u - x0;
      const fy = v - y0;
      for (let t = 0; t < 4; t++) {
        const tx = x0 + (t & 1);
        const ty = y0 + (t >> 1);
        taps[t] = tx < 0 || ty < 0 || tx >= w || ty >= h ? -1 : (ty * w + tx) * 3; // -1: outside, takes the fill
        weights[t] = (t & 1 ? fx : 1 - fx) * (t >> 1 ? fy : 1 - fy);
      }
      const o = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let t = 0; t < 4; t++) sum += weights[t]! * (taps[t]! < 0 ? fill : src[taps[t]! + c]!);
        out[o + c] = Math.round(sum);
      }
    }
  }
  return out;
}

/** torchvision's adjust_brightness then adjust_contrast (blend with the mean of the ITU-R 601 grey image). */
function adjustColour(src: Uint8Array, brightness: number, contrast: number): Uint8Array {
  const bright = new Float32Array(src.length);
  let greySum = 0;
  for (let i = 0; i < src.length; i += 3) {
    for (let c = 0; c < 3; c++) bright[i + c] = Math.min(255, src[i + c]! * brightness);
    greySum += 0.299 * bright[i]! + 0.587 * bright[i + 1]! + 0.114 * bright[i + 2]!;
  }
  const mean = greySum / (src.length / 3);
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = Math.min(255, Math.max(0, Math.round((bright[i]! - mean) * contrast + mean)));
  return out;
}
