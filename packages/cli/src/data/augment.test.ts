import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { AugmentError, applyPixelAugment, checkAugmentOptions, drawAugment, identityAugment, resolveCrop, type AugmentOptions } from './augment.js';
import { decodeImage } from './decode.js';
import { mulberry32 } from './random.js';

const all: AugmentOptions = { flip: true, rotation: 20, zoom: 0.2, randomResizedCrop: { scale: [0.3, 1], ratio: [3 / 4, 4 / 3] }, brightness: 0.3, contrast: 0.3 };

/** A w x w black image with one white pixel at (x, y). */
function marker(w: number, x: number, y: number): Uint8Array {
  const p = new Uint8Array(w * w * 3);
  p.fill(255, (y * w + x) * 3, (y * w + x) * 3 + 3);
  return p;
}

/** Where the brightest pixel is. */
function brightest(p: Uint8Array, w: number): [number, number] {
  let best = 0;
  for (let i = 0; i < p.length / 3; i++) if (p[i * 3]! > p[best * 3]!) best = i;
  return [best % w, Math.floor(best / w)];
}

const mean = (p: Uint8Array) => p.reduce((a, b) => a + b, 0) / p.length;
const spread = (p: Uint8Array) => Math.sqrt(p.reduce((a, b) => a + (b - mean(p)) ** 2, 0) / p.length);

describe('drawAugment', () => {
  it('is a pure function of (options, seed, epoch, index)', () => {
    expect(drawAugment(all, 1, 2, 3)).toEqual(drawAugment(all, 1, 2, 3));
    expect(drawAugment(all, 1, 3, 3)).not.toEqual(drawAugment(all, 1, 2, 3));
    expect(drawAugment(all, 1, 2, 4)).not.toEqual(drawAugment(all, 1, 2, 3));
    expect(drawAugment(all, 2, 2, 3)).not.toEqual(drawAugment(all, 1, 2, 3));
  });

  it('draws identity for disabled augmentations, and enabling one leaves the others draws alone', () => {
    expect(drawAugment({}, 1, 0, 0)).toEqual(identityAugment);
    const rotationOnly = drawAugment({ rotation: 30 }, 5, 0, 9);
    const withFlip = drawAugment({ rotation: 30, flip: true, brightness: 0.5 }, 5, 0, 9);
    expect(withFlip.rotation).toBe(rotationOnly.rotation);
    expect(withFlip.zoom).toBe(1);
  });

  it('keeps draws within their ranges and flips about half the time', () => {
    const draws = Array.from({ length: 400 }, (_, i) => drawAugment(all, 0, 0, i));
    expect(draws.every((d) => Math.abs(d.rotation) <= 20 && d.zoom >= 0.8 && d.zoom <= 1.2)).toBe(true);
    expect(draws.every((d) => d.brightness >= 0.7 && d.brightness <= 1.3 && d.contrast >= 0.7 && d.contrast <= 1.3)).toBe(true);
    const flips = draws.filter((d) => d.flip).length;
    expect(flips).toBeGreaterThan(160);
    expect(flips).toBeLessThan(240);
    expect(Math.min(...draws.map((d) => d.rotation))).toBeLessThan(-15);
    expect(Math.max(...draws.map((d) => d.rotation))).toBeGreaterThan(15);
  });

  it('rejects options out of range', () => {
    expect(() => checkAugmentOptions({ zoom: 1.5 })).toThrow(new AugmentError('augmentation zoom must be in [0, 1), got 1.5'));
    expect(() => checkAugmentOptions({ randomResizedCrop: { scale: [0.5, 0.2], ratio: [1, 1] } })).toThrow(AugmentError);
    expect(() => checkAugmentOptions(all)).not.toThrow();
  });
});

describe('resolveCrop', () => {
  const ratio: [number, number] = [3 / 4, 4 / 3];
  it('takes the first attempt that fits, placed within the image', () => {
    const box = resolveCrop({ attempts: [{ area: 0.9, aspect: 4, x: 0.5, y: 0.5 }, { area: 0.25, aspect: 1, x: 0.999, y: 0 }], ratio }, 40, 20);
    // 0.9 of the area at aspect 4 is 57 x 14: too wide. The second is 14 x 14 at the far right.
    expect(box).toEqual({ left: 26, top: 0, width: 14, height: 14 });
  });

  it('falls back to a centre crop clamped to the ratio range', () => {
    expect(resolveCrop({ attempts: [{ area: 1, aspect: 4, x: 0, y: 0 }], ratio }, 100, 20)).toEqual({ left: 36, top: 0, width: 27, height: 20 }) // (100 - 27) // 2, as torchvision;
    expect(resolveCrop({ attempts: [], ratio }, 30, 30)).toEqual({ left: 0, top: 0, width: 30, height: 30 });
  });
});

describe('applyPixelAugment', () => {
  it('flip mirrors a marker exactly', () => {
    const out = applyPixelAugment(marker(5, 1, 2), 5, 5, { ...identityAugment, flip: true });
    expect(out).toEqual(marker(5, 3, 2));
  });

  it('rotation turns counter-clockwise about the centre: top-right goes to top-left at 90 degrees', () => {
    const out = applyPixelAugment(marker(4, 3, 0), 4, 4, { ...identityAugment, rotation: 90 });
    expect(brightest(out, 4)).toEqual([0, 0]);
    expect(out[0]).toBe(255);
    // Corners rotated in from outside the image are filled white; a 45 degree turn brings them in.
    const turned = applyPixelAugment(new Uint8Array(16 * 16 * 3), 16, 16, { ...identityAugment, rotation: 45 });
    expect([...turned.subarray(0, 3)]).toEqual([255, 255, 255]);
    expect(turned[(8 * 16 + 8) * 3]).toBe(0);
  });

  it('zoom above 1 zooms out (white border), below 1 zooms in (a marker moves away from the centre)', () => {
    const out = applyPixelAugment(new Uint8Array(10 * 10 * 3), 10, 10, { ...identityAugment, zoom: 2 });
    expect(out[0]).toBe(255);
    expect(out[(5 * 10 + 5) * 3]).toBe(0);
    const zoomedIn = applyPixelAugment(marker(20, 12, 10), 20, 20, { ...identityAugment, zoom: 0.5 });
    expect(brightest(zoomedIn, 20)[0]).toBeGreaterThanOrEqual(13);
  });

  it('brightness scales values (clamped) and contrast scales the distance from the mean', () => {
    const random = mulberry32(1);
    const pixels = Uint8Array.from({ length: 8 * 8 * 3 }, () => 40 + Math.floor(random() * 150));
    const brighter = applyPixelAugment(pixels, 8, 8, { ...identityAugment, brightness: 1.5 });
    expect(mean(brighter)).toBeGreaterThan(mean(pixels) * 1.4);
    expect(Math.max(...applyPixelAugment(pixels, 8, 8, { ...identityAugment, brightness: 3 }))).toBe(255);
    const flatter = applyPixelAugment(pixels, 8, 8, { ...identityAugment, contrast: 0.5 });
    expect(spread(flatter)).toBeCloseTo(spread(pixels) * 0.5, 0);
    expect(applyPixelAugment(pixels, 8, 8, identityAugment)).toEqual(pixels);
  });
});

describe('augmented decoding', () => {
  it('gives the same bytes for the same (seed, epoch, index) and different bytes for another epoch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graft-augment-'));
    try {
      const random = mulberry32(2);
      const noise = Uint8Array.from({ length: 24 * 24 * 3 }, () => Math.floor(random() * 256));
      await sharp(noise, { raw: { width: 24, height: 24, channels: 3 } }).png().toFile(join(dir, 'noise.png'));
      const ref = { kind: 'file' as const, path: join(dir, 'noise.png') };
      const decode = (epoch: number) => decodeImage(ref, { size: [16, 16] }, drawAugment(all, 1, epoch, 3));
      const a = await decode(0);
      expect(await decode(0)).toEqual(a);
      expect(await decode(1)).not.toEqual(a);
      expect(await decodeImage(ref, { size: [16, 16] })).not.toEqual(a);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
