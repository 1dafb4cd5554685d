import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityAugment } from './augment.js';
import { cifar10RecordBytes } from './cifar10.js';
import { DecodeError, decodeImage, imageSpecFor } from './decode.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'graft-decode-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Rgb = [number, number, number];

/** A w x h image of `background` with rectangles painted on, as raw RGB for sharp. */
function paint(w: number, h: number, background: Rgb, rects: { x: number; y: number; w: number; h: number; rgb: Rgb }[] = []) {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set(background, i * 3);
  for (const r of rects) for (let y = r.y; y < r.y + r.h; y++) for (let x = r.x; x < r.x + r.w; x++) data.set(r.rgb, (y * w + x) * 3);
  return sharp(data, { raw: { width: w, height: h, channels: 3 } });
}

const file = (name: string) => ({ kind: 'file' as const, path: join(dir, name) });
const pixel = (p: Uint8Array, w: number, x: number, y: number) => [...p.subarray((y * w + x) * 3, (y * w + x) * 3 + 3)];
const near = (actual: number[], expected: Rgb, tolerance = 40) => actual.every((v, c) => Math.abs(v - expected[c]!) <= tolerance);
const red: Rgb = [255, 0, 0];
const green: Rgb = [0, 255, 0];
const blue: Rgb = [0, 0, 255];
const black: Rgb = [0, 0, 0];

describe('decodeImage', () => {
  it('applies the EXIF orientation: a marker top-left in the stored pixels shows top-right under orientation 6', async () => {
    // Stored 40 wide x 20 high; orientation 6 means "rotate 90 degrees clockwise to display": 20 wide x 40 high.
    await paint(40, 20, black, [{ x: 0, y: 0, w: 8, h: 8, rgb: red }]).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(join(dir, 'exif.jpg'));
    const out = await decodeImage(file('exif.jpg'), { size: [40, 20], resize: 20 });
    expect(out.length).toBe(40 * 20 * 3);
    expect(near(pixel(out, 20, 17, 2), red)).toBe(true);
    expect(near(pixel(out, 20, 2, 2), black)).toBe(true);
    expect(near(pixel(out, 20, 17, 37), black)).toBe(true);
  });

  it('resizes the shorter side and centre-crops, keeping the aspect ratio', async () => {
    // Thirds: red | green | blue, 90 x 30. Shorter side to 24 -> 72 x 24, centre 24 x 24 is the green third.
    const thirds = [0, 1, 2].map((i) => ({ x: i * 30, y: 0, w: 30, h: 30, rgb: [red, green, blue][i]! }));
    await paint(90, 30, black, thirds).png().toFile(join(dir, 'thirds.png'));
    const out = await decodeImage(file('thirds.png'), { size: [20, 20], resize: 24 });
    expect(out.length).toBe(20 * 20 * 3);
    for (const x of [0, 10, 19]) expect(pixel(out, 20, x, 10)).toEqual(green);
    // With the default resize (20 / 0.875 = 23) the crop still shows only green.
    expect(pixel(await decodeImage(file('thirds.png'), { size: [20, 20] }), 20, 0, 0)).toEqual(green);
  });

  it('gives 3 channels for grayscale and grey+alpha, and flattens transparency onto white', async () => {
    await paint(8, 8, [100, 100, 100]).toColourspace('b-w').png().toFile(join(dir, 'grey.png'));
    expect((await sharp(join(dir, 'grey.png')).metadata()).channels).toBe(1);
    expect([...new Set(await decodeImage(file('grey.png'), { size: [8, 8], resize: 8 }))]).toEqual([100]);

    const transparent = sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } } });
    await transparent.png().toFile(join(dir, 'rgba.png'));
    expect([...new Set(await decodeImage(file('rgba.png'), { size: [8, 8], resize: 8 }))]).toEqual([255]);

    const halfBlack = sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0.5 } } }).toColourspace('b-w');
    await halfBlack.png().toFile(join(dir, 'grey-alpha.png'));
    const out = await decodeImage(file('grey-alpha.png'), { size: [8, 8], resize: 8 });
    expect(out.length).toBe(8 * 8 * 3);
    expect(near(pixel(out, 8, 3, 3), [128, 128, 128], 2)).toBe(true);
  });

  it('decodes 16-bit PNG to 8-bit', async () => {
    await paint(8, 8, [200, 100, 50]).toColourspace('rgb16').png().toFile(join(dir, 'deep.png'));
    expect((await sharp(join(dir, 'deep.png')).metadata()).depth).toBe('ushort');
    expect(near(pixel(await decodeImage(file('deep.png'), { size: [8, 8], resize: 8 }), 8, 4, 4), [200, 100, 50], 2)).toBe(true);
  });

  it.each(['webp', 'gif', 'tiff', 'avif', 'jpeg'] as const)('decodes %s', async (format) => {
    const path = `halves.${format}`;
    await paint(16, 16, red, [{ x: 8, y: 0, w: 8, h: 16, rgb: blue }]).toFormat(format).toFile(join(dir, path));
    const out = await decodeImage(file(path), { size: [16, 16], resize: 16 });
    expect(near(pixel(out, 16, 2, 8), red)).toBe(true);
    expect(near(pixel(out, 16, 13, 8), blue)).toBe(true);
  });

  it('crops the randomResizedCrop box in oriented coordinates before resizing', async () => {
    const crop = { attempts: [{ area: 0.25, aspect: 1, x: 0, y: 0 }], ratio: [0.75, 4 / 3] as [number, number] };
    // Top-left quarter is red in the stored pixels; with orientation 6 it displays top-right.
    await paint(32, 32, blue, [{ x: 0, y: 0, w: 16, h: 16, rgb: red }]).png().withMetadata({ orientation: 6 }).toFile(join(dir, 'quarter.png'));
    const out = await decodeImage(file('quarter.png'), { size: [8, 8] }, { ...identityAugment, crop });
    expect(pixel(out, 8, 4, 4)).toEqual(blue); // x = 0, y = 0: the displayed top-left quarter
    const right = await decodeImage(file('quarter.png'), { size: [8, 8] }, { ...identityAugment, crop: { ...crop, attempts: [{ area: 0.25, aspect: 1, x: 0.99, y: 0 }] } });
    expect(pixel(right, 8, 4, 4)).toEqual(red);
  });

  it('decodes a CIFAR-10 record through the same geometry', async () => {
    const bytes = new Uint8Array(2 * cifar10RecordBytes);
    bytes[cifar10RecordBytes] = 7;
    // Record 1: red plane 200 everywhere, green 0, blue 0 except blue 255 at pixel (row 0, column 31).
    bytes.fill(200, cifar10RecordBytes + 1, cifar10RecordBytes + 1 + 1024);
    bytes[cifar10RecordBytes + 1 + 2048 + 31] = 255;
    writeFileSync(join(dir, 'data_batch_1.bin'), bytes);
    const ref = { kind: 'cifar10' as const, file: join(dir, 'data_batch_1.bin'), index: 1 };
    const out = await decodeImage(ref, { size: [32, 32], resize: 32 });
    expect(pixel(out, 32, 31, 0)).toEqual([200, 0, 255]);
    expect(pixel(out, 32, 0, 0)).toEqual([200, 0, 0]);
    const big = await decodeImage(ref, { size: [64, 64], resize: 64 });
    expect(big.length).toBe(64 * 64 * 3);
    await expect(decodeImage({ ...ref, index: 2 }, { size: [32, 32] })).rejects.toThrow(`cannot decode '${ref.file}#2': record 2 is beyond`);
  });

  it('raises a DecodeError naming the path for a corrupt JPEG, a text file named .png and a missing file', async () => {
    const good = await paint(16, 16, red).jpeg().toBuffer();
    writeFileSync(join(dir, 'corrupt.jpg'), good.subarray(0, 40));
    writeFileSync(join(dir, 'text.png'), 'this is not an image\n');
    for (const name of ['corrupt.jpg', 'text.png', 'missing.jpg']) {
      const error = await decodeImage(file(name), { size: [8, 8] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DecodeError);
      expect((error as DecodeError).id).toBe(join(dir, name));
      expect((error as DecodeError).message).toMatch(new RegExp(`^cannot decode '${join(dir, name)}': \\S`));
      expect((error as DecodeError).message).not.toContain('\n');
    }
  });

  it('takes its geometry from the weights preprocessing', () => {
    const spec = imageSpecFor({ name: 't', channelOrder: 'rgb', scale: 1, mean: [0, 0, 0], std: [1, 1, 1], resize: 256, crop: 224, interpolation: 'bicubic' });
    expect(spec).toEqual({ size: [224, 224], resize: 256, interpolation: 'bicubic' });
    // Another size keeps the resize-to-crop ratio: 160 -> round(160 * 256 / 224) = 183.
    expect(imageSpecFor({ ...{ name: 't', channelOrder: 'rgb', scale: 1, mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bicubic' }, resize: 256, crop: 224 } as Parameters<typeof imageSpecFor>[0], 160)).toEqual({ size: [160, 160], resize: 183, interpolation: 'bicubic' });
  });
});
