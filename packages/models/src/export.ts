/**
 * Exporting a trained graft model as a directory other tools can read: `model.safetensors` in
 * torchvision's layouts (the inverse of importers/torchLayout.ts, which holds both directions) and
 * `config.json` naming the architecture, flavour, class names and preprocessing. Both files are
 * written atomically (a temporary file beside the target, then a rename), config.json last: a
 * directory with a config.json has complete weights.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomicWrite.js';
import { join } from 'node:path';
import type { LoadResult, Module } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { readSafetensors, writeSafetensors } from './importers/safetensors.js';
import { loadTorchStateDict, torchStateDict } from './importers/torchLayout.js';
import type { Preprocessing } from './preprocessing.js';

export const exportFormat = 'graft-export';
export const exportVersion = 1;

export interface ExportOptions {
  /** e.g. 'resnet18', 'mobilenet_v2'. */
  architecture: string;
  /** e.g. 'torchvision' or 'keras' (MobileNetV2's padding/BN conventions). */
  flavour: string;
  classNames: string[];
  preprocessing: Preprocessing;
}

export interface ExportConfig extends ExportOptions {
  format: typeof exportFormat;
  version: number;
  weights: string;
}

export const weightsFile = 'model.safetensors';
export const configFile = 'config.json';

/** Writes `model` to `dir` (created if needed) as model.safetensors (PyTorch layouts) + config.json. */
export async function exportSafetensors(model: Module, dir: string, options: ExportOptions): Promise<ExportConfig> {
  const config: ExportConfig = {
    format: exportFormat,
    version: exportVersion,
    architecture: options.architecture,
    flavour: options.flavour,
    classNames: [...options.classNames],
    preprocessing: options.preprocessing,
    weights: weightsFile,
  };
  const text = `${JSON.stringify(config, null, 2)}\n`; // serialise before touching the disk
  const tensors = await torchStateDict(model);
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, weightsFile), tensors);
  writeFileAtomic(join(dir, configFile), text);
  return config;
}

/** Reads `dir`/config.json, checking the fields an importer relies on. */
export function readExportConfig(dir: string): ExportConfig {
  const path = join(dir, configFile);
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: cannot read the export config (${(e as Error).message})`);
  }
  const c = config as Partial<ExportConfig> | null;
  if (typeof c !== 'object' || c === null || c.format !== exportFormat) throw new Error(`${path}: not a graft export (format is not '${exportFormat}')`);
  if (c.version !== exportVersion) throw new Error(`${path}: export version ${String(c.version)} is not supported (expected ${exportVersion})`);
  if (typeof c.architecture !== 'string' || typeof c.flavour !== 'string' || !Array.isArray(c.classNames) || typeof c.preprocessing !== 'object' || c.preprocessing === null) {
    throw new Error(`${path}: missing or malformed architecture, flavour, classNames or preprocessing`);
  }
  return c as ExportConfig;
}

/**
 * Reads an export back: config.json, then a model from `build(config)`, then model.safetensors
 * through loadTorchStateDict (strict: every key and shape must match).
 */
export function loadExported<M extends Module>(
  _gpu: Gpu,
  dir: string,
  build: (config: ExportConfig) => M,
): { model: M; config: ExportConfig; result: LoadResult } {
  const config = readExportConfig(dir);
  const tensors = readSafetensors(join(dir, config.weights ?? weightsFile));
  const model = build(config);
  try {
    const result = loadTorchStateDict(model, tensors, { strict: true });
    return { model, config, result };
  } catch (e) {
    model.release();
    throw e;
  }
}
