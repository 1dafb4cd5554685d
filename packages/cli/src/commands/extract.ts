/**
 * `graft extract <data>`: the frozen backbone's pooled features of every image in a class folder,
 * as `features` [n, d] (F32) and `labels` [n] (I32) in a safetensors file, with a JSON sidecar
 * (<out minus .safetensors>.json) naming the images, classes and model. Features come from the
 * feature cache (train/featureCache.ts) where it has them.
 *
 * `--shard k/N` takes every N-th image starting at k of the sorted list, for N workers sharing the
 * job; `--merge <out> <shard files…>` puts the shards back together in the original order.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createGpu } from '@graft/kernels';
import { encodeSafetensors, readSafetensors, type Preprocessing } from '@graft/models';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createDecodePool, imageSpecFor, scanImageFolder, type Sample } from '../data/index.js';
import { writeFileAtomic } from '../report/index.js';
import { loadBackbone, modelNames, type ModelName } from '../train/backbones.js';
import { extractFeatures, featureKey, FeatureCache } from '../train/featureCache.js';
import { intArg, numberArg } from './train.js';
import { warnTo } from './runTarget.js';

export class FeatureFileError extends Error {
  override name = 'FeatureFileError';
}

export interface Shard {
  index: number;
  count: number;
}

/** `--shard k/N` (0 <= k < N). */
export function shardArg(value: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!match || count < 1 || index >= count) throw new InvalidArgumentError(`--shard takes k/N with 0 <= k < N (k counts from 0), got '${value}'`);
  return { index, count };
}

/** What the sidecar JSON says about a features file. */
export interface FeatureSidecar {
  format: 'graft-features';
  version: 1;
  modelKey: string;
  model: { model: string; alpha: number; weights: string; identity: Record<string, unknown>; preprocessing: Preprocessing; inputSize: [number, number] };
  classes: string[];
  /** Images in the file's row order, and their positions in the full (unsharded) sorted list. */
  paths: string[];
  indices: number[];
  /** Size of the full list; the shard this file holds, if any. */
  total: number;
  shard?: Shard;
  skipped: { path: string; reason: string }[];
  features: [number, number];
}

/** `features.safetensors` -> `features`, the stem the sidecar and shard names build on. */
function stem(out: string): string {
  return out.replace(/\.safetensors$/, '');
}

export function sidecarPath(out: string): string {
  return `${stem(out)}.json`;
}

export function shardPath(out: string, shard: Shard): string {
  return `${stem(out)}.shard-${shard.index}-of-${shard.count}.safetensors`;
}

/** safetensors with `features` F32 [n, d] and `labels` I32 [n]. */
export function encodeFeatureFile(features: Float32Array, n: number, d: number, labels: Int32Array): Uint8Array {
  return encodeSafetensors({ features: { data: features, shape: [n, d] }, labels: { data: Float32Array.from(labels), shape: [n], dtype: 'I32' } });
}

export function writeFeatureFile(out: string, rows: Float32Array[], labels: number[], width: number, sidecar: FeatureSidecar): void {
  const features = new Float32Array(rows.length * width);
  rows.forEach((r, i) => features.set(r, i * width));
  writeFileAtomic(out, encodeFeatureFile(features, rows.length, width, Int32Array.from(labels)));
  writeFileAtomic(sidecarPath(out), `${JSON.stringify(sidecar, null, 2)}\n`);
}

export function readFeatureFile(file: string): { features: Float32Array; labels: Int32Array; sidecar: FeatureSidecar } {
  if (!existsSync(file)) throw new FeatureFileError(`'${file}' does not exist`);
  const side = sidecarPath(file);
  let sidecar: FeatureSidecar;
  try {
    sidecar = JSON.parse(readFileSync(side, 'utf8')) as FeatureSidecar;
  } catch (e) {
    throw new FeatureFileError(`${side}: cannot read the sidecar of '${file}' (${(e as Error).message})`);
  }
  if (sidecar.format !== 'graft-features') throw new FeatureFileError(`${side}: not a graft features sidecar`);
  const tensors = readSafetensors(file);
  const features = tensors.get('features');
  const labels = tensors.get('labels');
  if (!features || !labels || features.shape[0] !== sidecar.paths.length) throw new FeatureFileError(`'${file}': expected features [${sidecar.paths.length}, d] and labels, found ${[...tensors.keys()].join(', ')}`);
  return { features: features.data, labels: Int32Array.from(labels.data), sidecar };
}

/** Shards back into one file in the original order; they must share a model key and classes and not overlap. */
export function mergeFeatureFiles(out: string, files: readonly string[], warn: (m: string) => void): FeatureSidecar {
  if (files.length === 0) throw new FeatureFileError('--merge needs the shard files to merge');
  const shards = files.map((file) => ({ file, ...readFeatureFile(file) }));
  const first = shards[0]!;
  const width = first.sidecar.features[1];
  const rows = new Map<number, { row: Float32Array; label: number; path: string; from: string }>();
  for (const s of shards) {
    if (s.sidecar.modelKey !== first.sidecar.modelKey) throw new FeatureFileError(`'${s.file}' comes from another model than '${first.file}' (model key ${s.sidecar.modelKey.slice(0, 12)}… vs ${first.sidecar.modelKey.slice(0, 12)}…)`);
    if (s.sidecar.classes.join('\0') !== first.sidecar.classes.join('\0')) throw new FeatureFileError(`'${s.file}' has classes [${s.sidecar.classes.join(', ')}], '${first.file}' has [${first.sidecar.classes.join(', ')}]`);
    if (s.sidecar.total !== first.sidecar.total) throw new FeatureFileError(`'${s.file}' was cut from a list of ${s.sidecar.total} images, '${first.file}' from ${first.sidecar.total}: not the same data`);
    s.sidecar.indices.forEach((index, i) => {
      const other = rows.get(index);
      if (other) throw new FeatureFileError(`'${s.file}' and '${other.from}' both hold image ${index} (${s.sidecar.paths[i]}): shards must not overlap`);
      rows.set(index, { row: s.features.slice(i * width, (i + 1) * width), label: s.labels[i]!, path: s.sidecar.paths[i]!, from: s.file });
    });
  }
  const count = first.sidecar.shard?.count;
  if (count !== undefined) {
    const have = new Set(shards.map((s) => s.sidecar.shard?.index));
    const absent = Array.from({ length: count }, (_, k) => k).filter((k) => !have.has(k));
    if (absent.length > 0) warn(`merging ${shards.length} of ${count} shards: shard${absent.length > 1 ? 's' : ''} ${absent.join(', ')} missing`);
  }
  const order = [...rows.keys()].sort((a, b) => a - b);
  const sidecar: FeatureSidecar = {
    ...first.sidecar,
    paths: order.map((i) => rows.get(i)!.path),
    indices: order,
    shard: undefined,
    skipped: shards.flatMap((s) => s.sidecar.skipped),
    features: [order.length, width],
  };
  writeFeatureFile(out, order.map((i) => rows.get(i)!.row), order.map((i) => rows.get(i)!.label), width, sidecar);
  return sidecar;
}

interface ExtractFlags {
  model: ModelName;
  weights: string;
  alpha?: number;
  size?: number;
  out: string;
  shard?: Shard;
  merge?: string;
  cache: boolean;
  cacheDir?: string;
  batchSize: number;
  workers?: number;
  json?: boolean;
}

export interface ExtractResult {
  out: string;
  images: number;
  computed: number;
  cached: number;
  skipped: number;
  features: [number, number];
}

export async function runExtract(data: string, flags: ExtractFlags, warn: (m: string) => void): Promise<ExtractResult> {
  const dataset = scanImageFolder(data, { valFraction: 0, testFraction: 0 });
  const all: Sample[] = [...dataset.train, ...dataset.val, ...dataset.test];
  const indices = all.map((_, i) => i).filter((i) => !flags.shard || i % flags.shard.count === flags.shard.index);
  const samples = indices.map((i) => all[i]!);
  const out = flags.shard ? shardPath(flags.out, flags.shard) : flags.out;
  const gpu = await createGpu();
  try {
    const loaded = await loadBackbone(gpu, { model: flags.model, weights: flags.weights, alpha: flags.alpha, warn });
    try {
      const p = loaded.preprocessing;
      const spec = imageSpecFor(p, flags.size);
      const key = featureKey({ model: flags.model, alpha: flags.alpha, weights: flags.weights, preprocessing: p, spec });
      if (!key.cacheable && flags.cache) warn('--weights none: random weights are not cached (their values depend on build order)');
      const cache = flags.cache && key.cacheable ? new FeatureCache(key, flags.cacheDir) : undefined;
      const skipped: FeatureSidecar['skipped'] = [];
      const pool = createDecodePool(flags.workers);
      let extraction;
      try {
        extraction = await extractFeatures(gpu, {
          backbone: loaded.backbone,
          width: loaded.numFeatures,
          preprocessing: p,
          spec,
          samples,
          cache,
          batchSize: flags.batchSize,
          pool,
          onSkip: (path, reason) => {
            skipped.push({ path, reason });
            warn(`skipped ${path}: ${reason}`);
          },
        });
      } finally {
        await pool.close();
      }
      const kept = samples.map((_, j) => j).filter((j) => extraction.features[j] !== undefined);
      if (kept.length === 0 && samples.length > 0) throw new FeatureFileError(`none of the ${samples.length} images could be read`);
      const sidecar: FeatureSidecar = {
        format: 'graft-features',
        version: 1,
        modelKey: key.key,
        model: { model: flags.model, alpha: flags.alpha ?? 1, weights: flags.weights, identity: key.identity, preprocessing: p, inputSize: spec.size },
        classes: dataset.classes,
        paths: kept.map((j) => samples[j]!.id),
        indices: kept.map((j) => indices[j]!),
        total: all.length,
        shard: flags.shard,
        skipped,
        features: [kept.length, loaded.numFeatures],
      };
      writeFeatureFile(out, kept.map((j) => extraction.features[j]!), kept.map((j) => samples[j]!.label), loaded.numFeatures, sidecar);
      return { out, images: kept.length, computed: extraction.computed, cached: extraction.cached, skipped: skipped.length, features: sidecar.features };
    } finally {
      loaded.backbone.release();
    }
  } finally {
    gpu.destroy();
  }
}

export function extractCommand(): Command {
  const command = new Command('extract')
    .description("write the frozen backbone's pooled features of an image folder to a safetensors file (cached per image)")
    .argument('[data...]', '<data>: image folder with class subfolders; with --merge: the shard files')
    .addOption(new Option('--model <name>', 'backbone').choices(modelNames as unknown as string[]).default('mobilenet_v2'))
    .option('--weights <file|nsfwjs|none>', 'pretrained weights (as in graft train)', 'nsfwjs')
    .option('--alpha <a>', 'MobileNetV2 width multiplier', numberArg('--alpha', 0.1, 2))
    .option('--size <px>', "square input size (default: the weights' crop size)", intArg('--size', 32))
    .option('--out <file>', 'output file; a sidecar <out>.json names the images and classes', 'features.safetensors')
    .option('--shard <k/N>', 'process every N-th image starting at k (0-based), writing <out>.shard-k-of-N.safetensors', shardArg)
    .option('--merge <out>', 'merge shard files (the arguments) into <out> instead of extracting')
    .option('--no-cache', 'run the backbone on every image and leave the feature cache alone')
    .option('--cache-dir <dir>', 'feature cache folder (default ~/.cache/graft/features; $GRAFT_CACHE moves ~/.cache/graft)')
    .option('--batch-size <n>', 'images per forward pass', intArg('--batch-size', 1), 32)
    .option('--workers <n>', 'image decoding threads', intArg('--workers'))
    .option('--json', 'print what was written as JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  graft extract photos/ --out features.safetensors              # MobileNetV2 (nsfwjs weights), 1280 features per image
  graft extract photos/ --model resnet50 --weights resnet50-11ad3fa6.pth --out r50.safetensors
  graft extract photos/ --shard 0/4 --out features.safetensors  # writes features.shard-0-of-4.safetensors
  graft extract --merge features.safetensors features.shard-*-of-4.safetensors

Sharding over many machines (point --cache-dir at shared storage to share the cache too):
  Kubernetes indexed Job (completionMode: Indexed, completions: 8):
    command: ["sh", "-c", "graft extract /data/photos --shard $JOB_COMPLETION_INDEX/8 --out /out/features.safetensors"]
  Slurm job array:
    #SBATCH --array=0-7
    graft extract photos/ --shard $SLURM_ARRAY_TASK_ID/8 --out features.safetensors
  then once, when all are done:
    graft extract --merge features.safetensors features.shard-*-of-8.safetensors

Already-seen images (same bytes, same model, weights, preprocessing and size) are read from the cache,
so a second run, or graft train in extract mode, does not run the backbone on them again.`,
    )
    .action(async (inputs: string[], flags: ExtractFlags) => {
      const warn = warnTo();
      const print = (result: object, line: string): void => {
        process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${line}\n`);
      };
      if (flags.merge) {
        if (flags.shard) command.error('error: --merge and --shard do not go together', { exitCode: 2, code: 'graft.usage' });
        const sidecar = mergeFeatureFiles(flags.merge, inputs, warn);
        return print({ out: flags.merge, images: sidecar.paths.length, features: sidecar.features }, `wrote ${flags.merge}: ${sidecar.features[0]} x ${sidecar.features[1]} features`);
      }
      if (inputs.length !== 1) command.error(`error: expected one <data> folder, got ${inputs.length} arguments (to merge shard files, use --merge <out>)`, { exitCode: 2, code: 'graft.usage' });
      const result = await runExtract(inputs[0]!, flags, warn);
      print(result, `wrote ${result.out}: ${result.features[0]} x ${result.features[1]} features (${result.computed} computed, ${result.cached} from the cache${result.skipped > 0 ? `, ${result.skipped} skipped` : ''})`);
    });
  return command;
}
