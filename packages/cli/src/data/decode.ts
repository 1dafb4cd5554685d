/**
 * One image to model input: HWC RGB uint8 of exactly the model's size. sharp decodes (first frame of
 * a GIF or multi-page TIFF), applies the EXIF orientation, flattens alpha onto white and converts any
 * colour space (grey, CMYK, 16-bit) to 8-bit sRGB. Then either the evaluation geometry (shorter side
 * to `resize`, centre crop, as torchvision's Resize + CenterCrop and Keras' crop_to_aspect_ratio
 * do) or, when training with a random resized crop, that crop resized to the model's size; then the
 * pixel augmentations of augment.ts.
 */
import { readFile } from 'node:fs/promises';
import type { Interpolation, Preprocessing } from '@graft/models';
import sharp, { type Sharp } from 'sharp';
import { applyPixelAugment, resolveCrop, type AugmentParams } from './augment.js';
import { cifar10Pixels, cifar10RecordBytes, cifar10Side } from './cifar10.js';
import type { ImageRef } from './sources.js';

export interface ImageSpec {
  /** The model's input [height, width]. */
  size: [h: number, w: number];
  /** Shorter side before the centre crop; default round(min(h, w) / 0.875), torchvision's 256 for 224. */
  resize?: number;
  /** Default 'bilinear'. */
  interpolation?: Interpolation;
}

/** An image that could not be read or decoded; `id` is its path (or file#index). */
export class DecodeError extends Error {
  override name = 'DecodeError';
  constructor(
    readonly id: string,
    readonly reason: string,
  ) {
    super(`cannot decode '${id}': ${reason}`);
  }
}

/** The geometry the weights were trained with. */
export function imageSpecFor(p: Preprocessing, size?: number): ImageSpec {
  if (!size) return { size: [p.crop, p.crop], resize: p.resize, interpolation: p.interpolation };
  // Another input size keeps the weights' resize-to-crop ratio (e.g. 256/224).
  return { size: [size, size], resize: Math.round((size * p.resize) / p.crop), interpolation: p.interpolation };
}

export function refId(ref: ImageRef): string {
  return ref.kind === 'file' ? ref.path : `${ref.file}#${ref.index}`;
}

const kernels = { bilinear: 'linear', bicubic: 'cubic', nearest: 'nearest' } as const;
const white = { r: 255, g: 255, b: 255 };

// Each thread keeps the CIFAR batch files it has read: decoding a record should not reread 30 MB.
const cifarFiles = new Map<string, Uint8Array>();

export async function decodeImage(ref: ImageRef, spec: ImageSpec, augment?: AugmentParams): Promise<Uint8Array> {
  const [h, w] = spec.size;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) throw new Error(`decodeImage: size must be two positive integers, got [${h}, ${w}]`);
  const id = refId(ref);
  const { input, width, height } = await openImage(ref, id);
  const kernel = kernels[spec.interpolation ?? 'bilinear'];
  try {
    let image: Sharp;
    if (augment?.crop) {
      image = input().extract(resolveCrop(augment.crop, width, height)).resize(w, h, { fit: 'fill', kernel });
    } else {
      // The shorter side becomes `resize` (the longer one truncated, as torchvision does), never smaller than the crop.
      const shorter = spec.resize ?? Math.round(Math.min(h, w) / 0.875);
      const scale = Math.max(shorter / Math.min(width, height), h / height, w / width);
      const rw = Math.max(w, Math.floor(width * scale));
      const rh = Math.max(h, Math.floor(height * scale));
      image = input()
        .resize(rw, rh, { fit: 'fill', kernel })
        .extract({ left: Math.round((rw - w) / 2), top: Math.round((rh - h) / 2), width: w, height: h });
    }
    const { data, info } = await image.toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.width !== w || info.height !== h || info.channels !== 3) {
      throw new Error(`sharp returned ${info.width}x${info.height}x${info.channels}, expected ${w}x${h}x3`);
    }
    const pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
    return augment ? applyPixelAugment(pixels, h, w, augment) : pixels.slice();
  } catch (error) {
    throw new DecodeError(id, reasonOf(error));
  }
}

/** A factory for the oriented, alpha-flattened sharp pipeline of `ref`, and its oriented size. */
async function openImage(ref: ImageRef, id: string): Promise<{ input: () => Sharp; width: number; height: number }> {
  if (ref.kind === 'cifar10') {
    const pixels = cifar10Pixels(await cifarFile(ref.file, ref.index, id), ref.index);
    const raw = { width: cifar10Side, height: cifar10Side, channels: 3 as const };
    return { input: () => sharp(pixels, { raw }), width: cifar10Side, height: cifar10Side };
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(ref.path);
  } catch (error) {
    throw new DecodeError(id, reasonOf(error));
  }
  // 'error' tolerates libvips' warnings (e.g. stray bytes after a JPEG's end, common in scraped data sets) but not broken pixel data.
  const input = () => sharp(bytes, { failOn: 'error', autoOrient: true }).flatten({ background: white });
  try {
    const meta = await sharp(bytes, { failOn: 'error' }).metadata();
    return { input, width: meta.autoOrient.width, height: meta.autoOrient.height };
  } catch (error) {
    throw new DecodeError(id, reasonOf(error));
  }
}

async function cifarFile(file: string, index: number, id: string): Promise<Uint8Array> {
  let bytes = cifarFiles.get(file);
  if (!bytes) {
    try {
      bytes = await readFile(file);
    } catch (error) {
      throw new DecodeError(id, reasonOf(error));
    }
    cifarFiles.set(file, bytes);
  }
  if ((index + 1) * cifar10RecordBytes > bytes.length) throw new DecodeError(id, `record ${index} is beyond the file's ${bytes.length / cifar10RecordBytes} records`);
  return bytes;
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.trim();
}
