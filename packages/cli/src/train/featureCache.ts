/**
 * A disk cache of the frozen backbone's pooled features, so extraction (and head training in extract
 * mode) never runs the backbone twice on the same image with the same model.
 *
 * The model key hashes everything that changes a feature: the architecture (and width multiplier),
 * the weights' content (a sha256 of the file or folder; for a built-in name its package version),
 * the preprocessing and the input geometry. An image is keyed by the sha256 of its file's bytes, so
 * renaming or copying an image still hits. Each (model key, image hash) is one small file of raw
 * little-endian f32 values, written atomically (a temporary file, then a rename), so concurrent
 * shards sharing the cache never see half a vector.
 *
 * Randomly initialised backbones (--weights none) are not cached: their weights depend on the order
 * layers were built in, which no key can name.
 */
import { createHash } from 'node:crypto';
import { writeFileAtomic } from '@graft/models';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { noGrad, type Layer, type Module, type Tensor } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import type { Preprocessing } from '@graft/models';
import type { DecodePool, ImageSpec, Sample } from '../data/index.js';
import { cacheDir, nsfwjsMobileNetV2 } from './builtinWeights.js';
import { buildPrefixCache } from './loop.js';

export const featureCacheFormat = 'graft-features';
export const featureCacheVersion = 1;

/** What a feature depends on besides the image. */
export interface FeatureModel {
  model: string;
  alpha?: number;
  /** The --weights value: a path, a built-in name, or 'none'. */
  weights: string;
  preprocessing: Preprocessing;
  spec: ImageSpec;
}

export interface FeatureKey {
  /** Hex sha256 of `identity`. */
  key: string;
  /** What was hashed, readable (written beside the cached files as key.json). */
  identity: Record<string, unknown>;
  /** False for random weights: nothing to cache by. */
  cacheable: boolean;
}

export class FeatureCacheError extends Error {
  override name = 'FeatureCacheError';
}

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The sha256 of an image file's bytes. */
export function fileSha256(path: string): string {
  return sha256(readFileSync(path));
}

/**
 * What identifies a --weights value's content: 'none', 'nsfwjs@<version>', or the sha256 of the
 * file (of a folder: of its files' names and hashes, for a TF.js model.json + shards).
 */
export function weightsIdentity(weights: string): string {
  if (weights === 'none') return 'none';
  if (weights === 'nsfwjs') return `nsfwjs@${basename(dirname(nsfwjsMobileNetV2())).replace(/^nsfwjs-/, '')}`;
  if (!existsSync(weights)) throw new FeatureCacheError(`weights '${weights}' do not exist (expected a file, a folder, nsfwjs or none)`);
  if (statSync(weights).isDirectory()) {
    const files = readdirSync(weights).filter((name) => !name.startsWith('.')).sort();
    return `sha256:${sha256(files.map((name) => `${name}\0${statSync(join(weights, name)).isFile() ? fileSha256(join(weights, name)) : 'dir'}`).join('\n'))}`;
  }
  return `sha256:${fileSha256(weights)}`;
}

export function featureKey(m: FeatureModel): FeatureKey {
  const weights = weightsIdentity(m.weights);
  const identity = {
    format: featureCacheFormat,
    version: featureCacheVersion,
    model: m.model,
    alpha: m.alpha ?? 1,
    weights,
    preprocessing: m.preprocessing,
    input: { size: m.spec.size, resize: m.spec.resize ?? null, interpolation: m.spec.interpolation ?? 'bilinear' },
  };
  return { key: sha256(JSON.stringify(identity)), identity, cacheable: weights !== 'none' };
}

/** One folder per model key under `root` (default ~/.cache/graft/features); one file per image hash. */
export class FeatureCache {
  readonly dir: string;

  constructor(
    readonly key: FeatureKey,
    root: string = join(cacheDir(), 'features'),
  ) {
    this.dir = join(root, key.key.slice(0, 32));
  }

  private file(imageHash: string): string {
    return join(this.dir, imageHash.slice(0, 2), `${imageHash}.f32`);
  }

  /** The cached features of an image, or undefined (also for a file of the wrong width: a miss, rewritten later). */
  get(imageHash: string, width: number): Float32Array | undefined {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.file(imageHash));
    } catch {
      return undefined;
    }
    if (bytes.byteLength !== 4 * width) return undefined;
    const values = new Float32Array(width);
    for (let i = 0; i < width; i++) values[i] = bytes.readFloatLE(4 * i);
    return values;
  }

  put(imageHash: string, values: Float32Array): void {
    const file = this.file(imageHash);
    mkdirSync(dirname(file), { recursive: true });
    const keyFile = join(this.dir, 'key.json');
    if (!existsSync(keyFile)) writeAtomic(keyFile, `${JSON.stringify(this.key.identity, null, 2)}\n`);
    const bytes = Buffer.alloc(4 * values.length);
    values.forEach((v, i) => bytes.writeFloatLE(v, 4 * i));
    writeAtomic(file, bytes);
  }

  /** How many feature files the cache holds for this key. */
  count(): number {
    if (!existsSync(this.dir)) return 0;
    return readdirSync(this.dir, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.f32')).length;
  }
}

const writeAtomic = writeFileAtomic;

export interface ExtractOptions {
  backbone: Module & Layer;
  /** Width of the backbone's pooled output. */
  width: number;
  preprocessing: Preprocessing;
  spec: ImageSpec;
  samples: Sample[];
  /** Omit to run the backbone on every image. */
  cache?: FeatureCache;
  batchSize: number;
  pool?: DecodePool;
  onSkip?: (id: string, reason: string) => void;
  onProgress?: (done: number, total: number) => void;
}

export interface Extraction {
  /** Per sample; undefined where the image could not be read or decoded. */
  features: (Float32Array | undefined)[];
  /** Images the backbone ran on, and images served from the cache. */
  computed: number;
  cached: number;
}

/** The backbone's pooled features for every sample, from the cache where it has them. */
export async function extractFeatures(gpu: Gpu, o: ExtractOptions): Promise<Extraction> {
  const features: (Float32Array | undefined)[] = o.samples.map(() => undefined);
  const hashes: (string | undefined)[] = o.samples.map(() => undefined);
  const misses: number[] = [];
  let cached = 0;
  o.samples.forEach((sample, i) => {
    if (sample.ref.kind === 'file' && o.cache) {
      try {
        hashes[i] = fileSha256(sample.ref.path);
      } catch (e) {
        o.onSkip?.(sample.id, (e as Error).message);
        return;
      }
      features[i] = o.cache.get(hashes[i]!, o.width);
    }
    if (features[i]) cached++;
    else misses.push(i);
  });
  o.onProgress?.(cached, o.samples.length);
  if (misses.length > 0) {
    const backbone = { eval: () => o.backbone.eval(), prefix: (x: Tensor) => noGrad(() => o.backbone.forward(x)) };
    const computed = await buildPrefixCache(gpu, backbone, { samples: misses.map((i) => o.samples[i]!), spec: o.spec, preprocessing: o.preprocessing, pool: o.pool, onSkip: o.onSkip }, o.batchSize, (done) =>
      o.onProgress?.(cached + done, o.samples.length),
    );
    misses.forEach((i, j) => {
      const values = computed.values[j];
      if (!values) return;
      features[i] = values;
      if (o.cache && hashes[i]) o.cache.put(hashes[i]!, values);
    });
  }
  const computedCount = misses.filter((i) => features[i] !== undefined).length;
  return { features, computed: computedCount, cached };
}
