/**
 * What a dataset is: class names and train/val/test lists of samples, each a reference to an image
 * (a file, or a record in a CIFAR-10 binary batch) and its label. Nothing is decoded here.
 *
 * Folder layouts (classes sorted by name, as Keras' image_dataset_from_directory and torchvision's
 * ImageFolder do, so label i means the same class in all three tools):
 *   root/<class>/**                      val (and test) split off per class, seeded
 *   root/train/<class>/** [root/val/<class>/**] [root/test/<class>/**]   (val may be named validation/ or valid/)
 *   either of the above plus an explicit valDir/<class>/**
 * Files inside nested folders of a class belong to it (as in torchvision). Hidden files and folders
 * and macOS' __MACOSX folders are skipped; files with other extensions are listed in `ignored`.
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { randomFor, shuffleInPlace, streams } from './random.js';

export type ImageRef = { kind: 'file'; path: string } | { kind: 'cifar10'; file: string; index: number };

export interface Sample {
  ref: ImageRef;
  label: number;
  /** The file path, or file#index for a CIFAR record: what reports and warnings name. */
  id: string;
}

export interface Dataset {
  root: string;
  classes: string[];
  train: Sample[];
  val: Sample[];
  test: Sample[];
  /** Files skipped because their extension is not an image format sharp decodes (for a warning). */
  ignored: string[];
}

export interface ScanOptions {
  /** Fraction of each class split off for validation when there is no val folder (default 0.2, as in Keras' examples). */
  valFraction?: number;
  /** Fraction of each class split off for testing when there is no test folder (default 0). */
  testFraction?: number;
  seed?: number;
  /** A folder of class subfolders used for validation instead of a split. */
  valDir?: string;
}

/** A dataset that cannot be used as given: the message names the folder or file and what was expected. */
export class DatasetError extends Error {
  override name = 'DatasetError';
}

/**
 * Extensions read as images: the formats sharp's prebuilt libvips decodes. BMP and HEIC are not
 * among them, so such files are ignored (and reported) rather than failing one by one at decode time.
 */
export const imageExtensions: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif'];

const valFolderNames = ['val', 'validation', 'valid'];
const testFolderName = 'test';

export function scanImageFolder(root: string, options: ScanOptions = {}): Dataset {
  const seed = options.seed ?? 0;
  const testFraction = checkFraction('testFraction', options.testFraction ?? 0);
  requireFolder(root, 'dataset folder');
  const subfolders = listEntries(root).filter((e) => e.isDir).map((e) => e.name);
  const splitLayout = subfolders.includes('train');

  let trainDir = root;
  let valDir = options.valDir;
  let testDir: string | undefined;
  if (splitLayout) {
    const unexpected = subfolders.filter((name) => name !== 'train' && name !== testFolderName && !valFolderNames.includes(name));
    if (unexpected.length > 0) {
      throw new DatasetError(
        `'${root}' has train/ beside ${unexpected.map((n) => `${n}/`).join(', ')}: expected only train/, val/ and test/ (or only class folders)`,
      );
    }
    trainDir = join(root, 'train');
    const valName = valFolderNames.find((name) => subfolders.includes(name));
    if (valDir === undefined && valName !== undefined) valDir = join(root, valName);
    if (subfolders.includes(testFolderName)) testDir = join(root, testFolderName);
  }
  if (options.valDir !== undefined) requireFolder(options.valDir, 'validation folder');
  const valFraction = checkFraction('valFraction', valDir === undefined ? (options.valFraction ?? 0.2) : 0);
  if (valFraction + testFraction >= 1) {
    throw new DatasetError(`valFraction + testFraction must be below 1 so training keeps images, got ${valFraction} + ${testFraction}`);
  }

  const ignored: string[] = [];
  const trainSet = scanClasses(trainDir, ignored);
  const classes = trainSet.classes;
  let train = trainSet.samples;
  let test: Sample[] = [];
  let val: Sample[] = [];
  if (testDir !== undefined) test = scanMatching(testDir, classes, trainDir, ignored);
  else if (testFraction > 0) ({ kept: train, split: test } = stratifiedSplit(train, testFraction, seed + 1));
  if (valDir !== undefined) val = scanMatching(valDir, classes, trainDir, ignored);
  else if (valFraction > 0) ({ kept: train, split: val } = stratifiedSplit(train, valFraction / (1 - testFraction), seed));
  return { root, classes, train, val, test, ignored };
}

/**
 * Splits off round(fraction * n) samples of each class (at least 1 when the class has 2 or more,
 * never all of them), chosen by a generator seeded with `seed`. Both parts keep the input order.
 */
export function stratifiedSplit(samples: Sample[], fraction: number, seed: number): { kept: Sample[]; split: Sample[] } {
  checkFraction('fraction', fraction);
  const byLabel = new Map<number, number[]>();
  samples.forEach((s, i) => byLabel.set(s.label, [...(byLabel.get(s.label) ?? []), i]));
  const chosen = new Set<number>();
  for (const label of [...byLabel.keys()].sort((a, b) => a - b)) {
    const positions = byLabel.get(label)!;
    const n = positions.length;
    const count = fraction === 0 || n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(fraction * n)));
    shuffleInPlace(positions, randomFor(streams.split, seed, label)).slice(0, count).forEach((p) => chosen.add(p));
  }
  return { kept: samples.filter((_, i) => !chosen.has(i)), split: samples.filter((_, i) => chosen.has(i)) };
}

function scanMatching(dir: string, classes: string[], trainDir: string, ignored: string[]): Sample[] {
  const other = scanClasses(dir, ignored);
  if (other.classes.join('\0') !== classes.join('\0')) {
    throw new DatasetError(
      `classes in '${dir}' differ from those in '${trainDir}': found [${other.classes.join(', ')}], expected [${classes.join(', ')}]`,
    );
  }
  return other.samples;
}

/** One folder of class subfolders: sorted class names and the samples, labelled by class position. */
function scanClasses(dir: string, ignored: string[]): { classes: string[]; samples: Sample[] } {
  requireFolder(dir, 'class folder root');
  const entries = listEntries(dir);
  const classes = entries.filter((e) => e.isDir).map((e) => e.name);
  if (classes.length === 0) {
    const loose = entries.filter((e) => !e.isDir && isImage(e.name)).length;
    throw new DatasetError(
      loose > 0
        ? `'${dir}' holds ${loose} images but no class subfolders: put each class's images in its own subfolder (${dir}/<class>/)`
        : `'${dir}' has no class subfolders: expected ${dir}/<class>/<images>`,
    );
  }
  const perClass = classes.map((name) => {
    const found: string[] = [];
    const others: string[] = [];
    walk(join(dir, name), found, others);
    ignored.push(...others);
    return { name, found, others };
  });
  if (perClass.every((c) => c.found.length === 0)) {
    throw new DatasetError(`no images found under '${dir}' (looked for ${imageExtensions.join(' ')})${ignoredHint(perClass.flatMap((c) => c.others))}`);
  }
  const empty = perClass.find((c) => c.found.length === 0);
  if (empty) throw new DatasetError(`class '${empty.name}' (${join(dir, empty.name)}) has no images${ignoredHint(empty.others)}`);
  const samples = perClass.flatMap((c, label) => c.found.map((path): Sample => ({ ref: { kind: 'file', path }, label, id: path })));
  return { classes, samples };
}

function ignoredHint(others: string[]): string {
  return others.length > 0 ? `; ignored ${others.length} files of other types, e.g. '${others[0]}'` : '';
}

/** Every image file below `dir`, in sorted order, recursing into subfolders. */
function walk(dir: string, found: string[], others: string[]): void {
  for (const entry of listEntries(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDir) walk(path, found, others);
    else (isImage(entry.name) ? found : others).push(path);
  }
}

function isImage(name: string): boolean {
  return imageExtensions.includes(extname(name).toLowerCase());
}

/** Visible entries, sorted by name; symlinks followed; hidden and __MACOSX entries dropped. */
function listEntries(dir: string): { name: string; isDir: boolean }[] {
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.') && name !== '__MACOSX')
    .sort()
    .flatMap((name) => {
      try {
        return [{ name, isDir: statSync(join(dir, name)).isDirectory() }];
      } catch {
        return []; // a dangling symlink: nothing to read
      }
    });
}

function requireFolder(dir: string, what: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new DatasetError(`${what} '${dir}' does not exist`);
  }
  if (!isDir) throw new DatasetError(`${what} '${dir}' is a file, expected a folder`);
}

export function checkFraction(name: string, value: number): number {
  if (!(value >= 0 && value < 1)) throw new DatasetError(`${name} must be in [0, 1), got ${value}`);
  return value;
}
