/**
 * CIFAR-10's binary format (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version"): each
 * record is 1 label byte then 3072 pixel bytes, the 1024 red values of the 32x32 image in row-major
 * order, then the 1024 green, then the 1024 blue. data_batch_1..5.bin are the training set,
 * test_batch.bin the test set, batches.meta.txt the class names, one per line.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatasetError, checkFraction, stratifiedSplit, type Dataset, type Sample } from './sources.js';

export const cifar10Side = 32;
export const cifar10RecordBytes = 1 + 3 * cifar10Side * cifar10Side;
export const cifar10ClassNames: readonly string[] = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export interface Cifar10Options {
  /** Fraction of each training class split off for validation (default 0.2). */
  valFraction?: number;
  seed?: number;
  /** Keep only these classes, relabelled 0..k-1 in this order (e.g. ['cat', 'dog'] for cats vs dogs). */
  classes?: string[];
}

/** Reads the labels of a CIFAR-10 binary folder (the tarball's cifar-10-batches-bin/ inside `dir` works too). */
export function readCifar10(dir: string, options: Cifar10Options = {}): Dataset {
  const root = existsSync(join(dir, 'cifar-10-batches-bin')) ? join(dir, 'cifar-10-batches-bin') : dir;
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new DatasetError(`CIFAR-10 folder '${dir}' does not exist`);
  const batches = readdirSync(root)
    .map((name) => ({ name, n: /^data_batch_(\d+)\.bin$/.exec(name)?.[1] }))
    .filter((b) => b.n !== undefined)
    .sort((a, b) => Number(a.n) - Number(b.n))
    .map((b) => join(root, b.name));
  if (batches.length === 0) throw new DatasetError(`'${root}' has no data_batch_<n>.bin files: expected CIFAR-10's binary version`);

  const metaPath = join(root, 'batches.meta.txt');
  const allClasses = existsSync(metaPath)
    ? readFileSync(metaPath, 'utf8').split(/\r?\n/).map((line) => line.trim()).filter((line) => line.length > 0)
    : [...cifar10ClassNames];
  const wanted = options.classes ?? allClasses;
  const missing = wanted.filter((c) => !allClasses.includes(c));
  if (missing.length > 0) throw new DatasetError(`CIFAR-10 has no class ${missing.map((c) => `'${c}'`).join(', ')}: known [${allClasses.join(', ')}]`);
  // Original label -> new label, or -1 for a class left out.
  const relabel = allClasses.map((name) => wanted.indexOf(name));

  const read = (file: string) => readRecords(file, allClasses.length, relabel);
  const all = batches.flatMap(read);
  const testPath = join(root, 'test_batch.bin');
  const test = existsSync(testPath) ? read(testPath) : [];
  const valFraction = checkFraction('valFraction', options.valFraction ?? 0.2);
  const { kept: train, split: val } = stratifiedSplit(all, valFraction, options.seed ?? 0);
  return { root, classes: [...wanted], train, val, test, ignored: [] };
}

function readRecords(file: string, classCount: number, relabel: number[]): Sample[] {
  const bytes = readFileSync(file);
  if (bytes.length === 0 || bytes.length % cifar10RecordBytes !== 0) {
    throw new DatasetError(`'${file}' is ${bytes.length} bytes, not a whole number of ${cifar10RecordBytes}-byte CIFAR-10 records`);
  }
  const samples: Sample[] = [];
  for (let index = 0; index < bytes.length / cifar10RecordBytes; index++) {
    const original = bytes[index * cifar10RecordBytes]!;
    if (original >= classCount) throw new DatasetError(`'${file}' record ${index} has label ${original}, expected below ${classCount}`);
    const label = relabel[original]!;
    if (label >= 0) samples.push({ ref: { kind: 'cifar10', file, index }, label, id: `${file}#${index}` });
  }
  return samples;
}

/** One record's image as HWC RGB bytes (the file stores it CHW). */
export function cifar10Pixels(file: Uint8Array, index: number): Uint8Array {
  const plane = cifar10Side * cifar10Side;
  const start = index * cifar10RecordBytes + 1;
  const out = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[p * 3 + c] = file[start + c * plane + p]!;
  }
  return out;
}
