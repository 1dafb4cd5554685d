import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cifar10Pixels, cifar10RecordBytes, readCifar10 } from './cifar10.js';
import { DatasetError, scanImageFolder, stratifiedSplit, type Sample } from './sources.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'graft-sources-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Scanning never decodes, so empty files stand in for images. */
function touch(...paths: string[]): void {
  for (const path of paths) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), '');
  }
}

function files(prefix: string, n: number, ext = 'jpg'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}/${String(i).padStart(2, '0')}.${ext}`);
}

const names = (samples: Sample[]) => samples.map((s) => s.id.slice(dir.length + 1));

describe('scanImageFolder', () => {
  it('reads root/<class>/ with sorted classes, nested folders, any-case extensions; skips hidden and other files', () => {
    touch('dogs/a.JPG', 'dogs/sub/b.png', 'cats/c.webp', 'cats/.hidden.jpg', '.git/x.jpg', 'cats/notes.txt', 'cats/d.bmp', '__MACOSX/cats/._c.webp');
    const ds = scanImageFolder(dir, { valFraction: 0 });
    expect(ds.classes).toEqual(['cats', 'dogs']);
    expect(names(ds.train)).toEqual(['cats/c.webp', 'dogs/a.JPG', 'dogs/sub/b.png']);
    expect(ds.train.map((s) => s.label)).toEqual([0, 1, 1]);
    expect(ds.train[0]!.ref).toEqual({ kind: 'file', path: join(dir, 'cats/c.webp') });
    expect(ds.ignored.map((p) => p.slice(dir.length + 1)).sort()).toEqual(['cats/d.bmp', 'cats/notes.txt']);
    expect(ds.val).toEqual([]);
    expect(ds.test).toEqual([]);
  });

  it('splits val (and test) per class, seeded, each class contributing round(fraction * n), at least 1', () => {
    touch(...files('a', 10), ...files('b', 3), ...files('c', 1));
    const ds = scanImageFolder(dir, { valFraction: 0.2, testFraction: 0.1, seed: 7 });
    const count = (samples: Sample[], label: number) => samples.filter((s) => s.label === label).length;
    expect([0, 1, 2].map((l) => count(ds.test, l))).toEqual([1, 1, 0]);
    // val's fraction applies to what test left: 0.2 / 0.9 of 9 = 2; of 2 -> at least 1, never the last one.
    expect([0, 1, 2].map((l) => count(ds.val, l))).toEqual([2, 1, 0]);
    expect([0, 1, 2].map((l) => count(ds.train, l))).toEqual([7, 1, 1]);
    const all = [...ds.train, ...ds.val, ...ds.test].map((s) => s.id).sort();
    expect(new Set(all).size).toBe(14);
    expect(scanImageFolder(dir, { valFraction: 0.2, testFraction: 0.1, seed: 7 })).toEqual(ds);
    const other = scanImageFolder(dir, { valFraction: 0.5, seed: 8 });
    const again = scanImageFolder(dir, { valFraction: 0.5, seed: 9 });
    expect(names(other.val)).not.toEqual(names(again.val));
  });

  it('defaults to a 0.2 validation split when there is no val folder', () => {
    touch(...files('a', 10), ...files('b', 10));
    expect(scanImageFolder(dir).val).toHaveLength(4);
  });

  it('reads train/ val/ test/ folders', () => {
    touch(...files('train/x', 3), ...files('train/y', 2), ...files('validation/x', 1), ...files('validation/y', 1), ...files('test/x', 1), ...files('test/y', 2));
    const ds = scanImageFolder(dir, { valFraction: 0.5 });
    expect(ds.classes).toEqual(['x', 'y']);
    expect(ds.train).toHaveLength(5); // a val folder wins over the split
    expect(names(ds.val)).toEqual(['validation/x/00.jpg', 'validation/y/00.jpg']);
    expect(ds.test.map((s) => s.label)).toEqual([0, 1, 1]);
  });

  it('splits val off train/ when val/ is absent, and takes an explicit valDir', () => {
    touch(...files('ds/train/x', 4), ...files('ds/train/y', 4), ...files('elsewhere/x', 1), ...files('elsewhere/y', 1));
    expect(scanImageFolder(join(dir, 'ds'), { valFraction: 0.25 }).val).toHaveLength(2);
    const ds = scanImageFolder(join(dir, 'ds'), { valDir: join(dir, 'elsewhere') });
    expect(ds.train).toHaveLength(8);
    expect(names(ds.val)).toEqual(['elsewhere/x/00.jpg', 'elsewhere/y/00.jpg']);
  });

  const error = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(DatasetError);
      expect((e as Error).message).not.toContain('\n');
      return (e as Error).message;
    }
    throw new Error('expected a DatasetError');
  };

  it('rejects a missing folder, a file, and a folder without class folders', () => {
    expect(error(() => scanImageFolder(join(dir, 'nope')))).toBe(`dataset folder '${join(dir, 'nope')}' does not exist`);
    touch('file.jpg');
    expect(error(() => scanImageFolder(join(dir, 'file.jpg')))).toContain('is a file, expected a folder');
    expect(error(() => scanImageFolder(dir))).toContain('holds 1 images but no class subfolders');
    rmSync(join(dir, 'file.jpg'));
    expect(error(() => scanImageFolder(dir))).toContain('has no class subfolders');
  });

  it('rejects a dataset without images, naming the ignored files', () => {
    touch('a/readme.txt', 'b/x.bmp');
    expect(error(() => scanImageFolder(dir))).toMatch(/^no images found under '.*' \(looked for \.jpg .*\); ignored 2 files of other types/);
  });

  it('names an empty class', () => {
    touch('a/1.png', 'b/sub/notes.txt', 'c/1.png');
    expect(error(() => scanImageFolder(dir))).toBe(`class 'b' (${join(dir, 'b')}) has no images; ignored 1 files of other types, e.g. '${join(dir, 'b/sub/notes.txt')}'`);
  });

  it('lists both class sets when validation classes differ from training classes', () => {
    touch('train/a/1.png', 'train/b/1.png', 'val/a/1.png', 'val/c/1.png');
    expect(error(() => scanImageFolder(dir))).toBe(
      `classes in '${join(dir, 'val')}' differ from those in '${join(dir, 'train')}': found [a, c], expected [a, b]`,
    );
    expect(error(() => scanImageFolder(join(dir, 'train'), { valDir: join(dir, 'missing') }))).toContain(`validation folder '${join(dir, 'missing')}' does not exist`);
  });

  it('rejects class folders beside train/ and fractions out of range', () => {
    touch('train/a/1.png', 'cats/1.png');
    expect(error(() => scanImageFolder(dir))).toContain('has train/ beside cats/');
    rmSync(join(dir, 'cats'), { recursive: true });
    expect(error(() => scanImageFolder(dir, { valFraction: 1 }))).toBe('valFraction must be in [0, 1), got 1');
    expect(error(() => scanImageFolder(dir, { valFraction: 0.6, testFraction: 0.5 }))).toContain('must be below 1');
  });
});

describe('stratifiedSplit', () => {
  const sample = (label: number, i: number): Sample => ({ ref: { kind: 'file', path: `${label}/${i}` }, label, id: `${label}/${i}` });
  it('keeps one image of a class in training and splits nothing off a single image', () => {
    const samples = [sample(0, 0), sample(0, 1), sample(1, 0)];
    const { kept, split } = stratifiedSplit(samples, 0.9, 1);
    expect(split.map((s) => s.label)).toEqual([0]);
    expect(kept.map((s) => s.label)).toEqual([0, 1]);
  });
});

describe('readCifar10', () => {
  /** Records whose pixel bytes encode (record, channel, position) so the layout is checkable. */
  function writeBatch(name: string, labels: number[]): void {
    const bytes = new Uint8Array(labels.length * cifar10RecordBytes);
    labels.forEach((label, r) => {
      bytes[r * cifar10RecordBytes] = label;
      for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) bytes[r * cifar10RecordBytes + 1 + c * 1024 + p] = (r * 50 + c * 7 + p) % 256;
    });
    mkdirSync(join(dir, 'cifar-10-batches-bin'), { recursive: true });
    writeFileSync(join(dir, 'cifar-10-batches-bin', name), bytes);
  }

  it('reads labels from data batches and the test batch, class names from batches.meta.txt', () => {
    writeBatch('data_batch_1.bin', [3, 5, 3, 5, 0]);
    writeBatch('data_batch_2.bin', [5, 3, 9]);
    writeBatch('test_batch.bin', [9, 3]);
    const ds = readCifar10(dir, { valFraction: 0 });
    expect(ds.classes[3]).toBe('cat');
    expect(ds.train.map((s) => s.label)).toEqual([3, 5, 3, 5, 0, 5, 3, 9]);
    expect(ds.train[5]!.ref).toEqual({ kind: 'cifar10', file: join(dir, 'cifar-10-batches-bin', 'data_batch_2.bin'), index: 0 });
    expect(ds.train[5]!.id).toBe(`${join(dir, 'cifar-10-batches-bin', 'data_batch_2.bin')}#0`);
    expect(ds.test.map((s) => s.label)).toEqual([9, 3]);

    writeFileSync(join(dir, 'cifar-10-batches-bin', 'batches.meta.txt'), 'a\nb\nc\ncat\ne\ndog\ng\nh\ni\nj\n\n');
    const pets = readCifar10(dir, { classes: ['cat', 'dog'], valFraction: 0.5, seed: 3 });
    expect(pets.classes).toEqual(['cat', 'dog']);
    expect([...pets.train, ...pets.val].map((s) => s.label).sort()).toEqual([0, 0, 0, 1, 1, 1]);
    expect(pets.val.map((s) => s.label).sort()).toEqual([0, 0, 1, 1]); // round(0.5 * 3) = 2 per class
    expect(pets.test.map((s) => s.label)).toEqual([0]);
  });

  it('turns the CHW record into HWC pixels', () => {
    writeBatch('data_batch_1.bin', [1, 2]);
    const bytes = new Uint8Array(readFileSync(join(dir, 'cifar-10-batches-bin', 'data_batch_1.bin')));
    const pixels = cifar10Pixels(bytes, 1);
    // Record 1, pixel (row 2, column 5) = position 69: channel c holds (50 + 7c + 69) % 256.
    expect([...pixels.subarray(69 * 3, 69 * 3 + 3)]).toEqual([119, 126, 133]);
  });

  it('rejects a truncated file, a bad label, a missing folder and unknown classes', () => {
    expect(() => readCifar10(join(dir, 'none'))).toThrow(DatasetError);
    writeBatch('data_batch_1.bin', [1]);
    writeFileSync(join(dir, 'cifar-10-batches-bin', 'data_batch_2.bin'), new Uint8Array(cifar10RecordBytes + 5));
    expect(() => readCifar10(dir)).toThrow(`'${join(dir, 'cifar-10-batches-bin', 'data_batch_2.bin')}' is 3078 bytes, not a whole number of 3073-byte CIFAR-10 records`);
    writeBatch('data_batch_2.bin', [12]);
    expect(() => readCifar10(dir)).toThrow('record 0 has label 12, expected below 10');
    rmSync(join(dir, 'cifar-10-batches-bin', 'data_batch_2.bin'));
    expect(() => readCifar10(dir, { classes: ['cat', 'wolf'] })).toThrow("CIFAR-10 has no class 'wolf'");
  });
});
