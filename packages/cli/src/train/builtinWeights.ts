/**
 * Pretrained weights that ship inside npm packages, so the demo needs no network. `nsfwjs@4.4.0`
 * bundles a Keras MobileNetV2 (224, alpha 1.0, uint8-quantized, TF.js layers format) as two UMD
 * JavaScript modules: the model.json object and the weight shard as base64. They are written back out
 * once as a standard model.json + binary shard under graft's cache folder, which the TF.js importer
 * then reads like any other TF.js model.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** Names accepted by `--weights` besides a path. */
export const builtinWeights = ['nsfwjs'] as const;
export type BuiltinWeights = (typeof builtinWeights)[number];

/** graft's cache folder: $GRAFT_CACHE, else $XDG_CACHE_HOME/graft, else ~/.cache/graft. */
export function cacheDir(): string {
  if (process.env.GRAFT_CACHE) return process.env.GRAFT_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'graft');
}

function nsfwjsRoot(): string {
  let entry: string;
  try {
    entry = require.resolve('nsfwjs');
  } catch {
    throw new Error("the built-in 'nsfwjs' weights need the npm package nsfwjs@4.4.0 (a dependency of @graft/cli): run the setup again");
  }
  // .../nsfwjs/dist/cjs/index.js -> .../nsfwjs
  return dirname(dirname(dirname(entry)));
}

/**
 * The folder holding nsfwjs' MobileNetV2 as model.json + group1-shard1of1, written on first use
 * (into a temporary folder, then renamed, so a crash never leaves half a model behind).
 */
export function nsfwjsMobileNetV2(): string {
  const root = nsfwjsRoot();
  const version = (require(join(root, 'package.json')) as { version: string }).version;
  const target = join(cacheDir(), `nsfwjs-${version}`, 'mobilenet_v2');
  if (existsSync(join(target, 'model.json'))) return target;
  const source = join(root, 'dist', 'models', 'mobilenet_v2');
  const modelJson = require(join(source, 'model.min.js')) as unknown;
  const shard = Buffer.from(require(join(source, 'group1-shard1of1.min.js')) as string, 'base64');
  const tmp = `${target}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'model.json'), JSON.stringify(modelJson));
  writeFileSync(join(tmp, 'group1-shard1of1'), shard);
  try {
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(target, 'model.json'))) throw e; // else another process won the race
  }
  return target;
}

/** A `--weights` value -> a path (built-in names are materialised first). */
export function resolveWeightsPath(spec: string): string {
  if (spec === 'nsfwjs') return nsfwjsMobileNetV2();
  return spec;
}
