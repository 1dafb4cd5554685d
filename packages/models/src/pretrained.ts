/**
 * One entry point for pretrained weights: `loadPretrained(model, path)` detects the file's format
 * from its content (not its name), picks the importer, checks that the weights' home framework
 * agrees with the model's flavour (Keras weights need Keras padding and BN eps), loads, and returns
 * the preprocessing the weights were trained with.
 *
 * Formats, by what their first bytes say:
 *   - 'pytorch-zip'  `PK\x03\x04`: torch.save since 1.6 (.pth/.pt/.bin), read without executing pickle.
 *   - 'keras-h5'     the HDF5 signature `\x89HDF\r\n\x1a\n` at byte 0 (or after a user block).
 *   - 'safetensors'  a little-endian u64 header length n with `{` at byte 8 and n + 8 <= file size.
 *   - 'tfjs-layers'  a JSON object with modelTopology and weightsManifest (model.json), or a directory holding one.
 *   - 'onnx'         anything else that decodes as an ONNX ModelProto with a graph and initializers.
 * A directory with a graft export's config.json is 'graft-export'. A legacy (pre-1.6, non-zip) PyTorch
 * file starts with a pickle protocol byte `\x80`: named as such, with how to re-save it.
 *
 * Names: torchvision's, or timm's MobileNetV2 or Hugging Face transformers' ResNet names, renamed
 * (importers/stateDictNames.ts). Origins: PyTorch formats are 'torchvision' unless the names or a
 * `config.json` with a pretrained_cfg beside the file (Hugging Face hub layout) say 'timm', or the names
 * say 'huggingface' (with a preprocessor_config.json beside the file when there is one); Keras and
 * TF.js files are 'keras-mobilenet', 'keras-resnet' or 'keras-vgg' by the architecture they hold.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Module, type HostEntry, type LoadResult } from '@graft/autograd';
import { configFile, readExportConfig } from './export.js';
import { WithHead } from './head.js';
import { readKerasH5 } from './importers/kerasH5.js';
import { loadOnnxInitializers, readOnnx } from './importers/onnx.js';
import { readSafetensors } from './importers/safetensors.js';
import { loadKerasMobileNetV2, readTfjsLayersModel } from './importers/tfjsLayers.js';
import { toTorchvisionNames } from './importers/stateDictNames.js';
import { loadTorchStateDict } from './importers/torchLayout.js';
import { readTorchZip } from './importers/torchZip.js';
import { MobileNetV2 } from './mobilenetV2.js';
import { resolvePreprocessing, samePreprocessing, timmDefaultCfg, torchvisionV2, type HfPreprocessorConfig, type Preprocessing, type TimmPretrainedCfg, type WeightsOrigin } from './preprocessing.js';
import { ResNet } from './resnet.js';
import { KerasResNet, loadKerasResNet } from './resnetKeras.js';
import { VGG } from './vgg.js';
import { loadKerasVgg } from './vggKeras.js';

export type WeightsFormat = 'safetensors' | 'pytorch-zip' | 'keras-h5' | 'tfjs-layers' | 'onnx' | 'graft-export';

export class PretrainedError extends Error {
  override name = 'PretrainedError';
}

/** The first `n` bytes of a file (fewer if it is shorter). */
function head(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buffer = new Uint8Array(n);
    const read = readSync(fd, buffer, 0, n, 0);
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

const hdf5Signature = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

function hasHdf5Signature(path: string, size: number): boolean {
  for (let at = 0; at + 8 <= size && at <= 1 << 20; at = at === 0 ? 512 : at * 2) {
    const fd = openSync(path, 'r');
    const bytes = new Uint8Array(8);
    try {
      readSync(fd, bytes, 0, 8, at);
    } finally {
      closeSync(fd);
    }
    if (hdf5Signature.every((b, i) => bytes[i] === b)) return true;
  }
  return false;
}

function isTfjsModelJson(path: string): boolean {
  try {
    const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    return typeof json === 'object' && json !== null && 'modelTopology' in json && 'weightsManifest' in json;
  } catch {
    return false;
  }
}

/** The format of the weights at `path`, from the content. Throws naming the file when none fits. */
export function detectWeightsFormat(path: string): WeightsFormat {
  let stats;
  try {
    stats = statSync(path);
  } catch (e) {
    throw new PretrainedError(`${path}: cannot read (${(e as Error).message})`);
  }
  if (stats.isDirectory()) {
    if (existsSync(join(path, configFile)) && existsSync(join(path, 'model.safetensors'))) {
      try {
        readExportConfig(path);
        return 'graft-export';
      } catch {
        // a Hugging Face hub folder (timm's config.json): the weights file decides
      }
    }
    if (existsSync(join(path, 'model.json')) && isTfjsModelJson(join(path, 'model.json'))) return 'tfjs-layers';
    throw new PretrainedError(`${path}: a directory, but neither a graft export (config.json + model.safetensors) nor a TF.js layers model (model.json)`);
  }
  const size = stats.size;
  const bytes = head(path, 16);
  if (bytes.length < 8) throw new PretrainedError(`${path}: ${size} bytes is too short to be a weights file`);
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return 'pytorch-zip';
  if (hasHdf5Signature(path, size)) return 'keras-h5';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (bytes[8] === 0x7b && headerLength + 8n <= BigInt(size)) return 'safetensors';
  if (bytes[0] === 0x7b || (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)) {
    if (isTfjsModelJson(path)) return 'tfjs-layers';
    throw new PretrainedError(`${path}: a JSON file, but not a TF.js layers model.json (no modelTopology and weightsManifest)`);
  }
  if (bytes[0] === 0x80 && bytes[1]! >= 2 && bytes[1]! <= 5) {
    throw new PretrainedError(`${path}: a legacy (pre-1.6) PyTorch pickle file, which graft does not read; re-save it in PyTorch with torch.save(state_dict, path) (the zip format is the default since 1.6)`);
  }
  // ONNX has no magic number: a ModelProto starts with field 1 (ir_version, varint: byte 0x08).
  if (bytes[0] === 0x08) {
    try {
      readOnnx(path);
      return 'onnx';
    } catch {
      // not ONNX either: fall through to the error listing what was checked
    }
  }
  throw new PretrainedError(
    `${path}: unrecognised weights format (checked for a PyTorch zip checkpoint, Keras HDF5, safetensors, TF.js model.json and ONNX; first bytes ${Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ')})`,
  );
}

/** Which framework's conventions a model was built with. */
function modelFamily(model: Module): { kind: 'mobilenet_v2' | 'resnet' | 'keras_resnet' | 'vgg' | 'other'; keras: boolean } {
  // VGG computes the same in both frameworks (stride-1 'same' padding is symmetric): either kind of file loads.
  if (model instanceof VGG) return { kind: 'vgg', keras: false };
  if (model instanceof MobileNetV2) return { kind: 'mobilenet_v2', keras: model.flavour === 'keras' };
  if (model instanceof KerasResNet) return { kind: 'keras_resnet', keras: true };
  if (model instanceof ResNet) return { kind: 'resnet', keras: false };
  return { kind: 'other', keras: false };
}

/** The JSON file `name` in `path`'s folder (or in `path` if it is a folder), if there is one. */
function jsonBeside(path: string, name: string): unknown {
  const candidate = join(statSync(path).isDirectory() ? path : dirname(path), name);
  if (!existsSync(candidate)) return undefined;
  try {
    return JSON.parse(readFileSync(candidate, 'utf8'));
  } catch (e) {
    throw new PretrainedError(`${candidate}: not valid JSON (${(e as Error).message})`);
  }
}

/** A timm pretrained_cfg from a config.json beside `path` (the Hugging Face hub layout), if there is one. */
export function timmConfigBeside(path: string): TimmPretrainedCfg | undefined {
  const candidate = join(statSync(path).isDirectory() ? path : dirname(path), 'config.json');
  const json = jsonBeside(path, 'config.json');
  const cfg = (json as { pretrained_cfg?: unknown } | null)?.pretrained_cfg;
  if (cfg === undefined) return undefined;
  const c = cfg as Partial<TimmPretrainedCfg> | null;
  if (typeof c !== 'object' || c === null || !Array.isArray(c.mean) || !Array.isArray(c.std) || !Array.isArray(c.input_size)) {
    throw new PretrainedError(`${candidate}: pretrained_cfg needs mean, std and input_size arrays, found ${JSON.stringify(cfg).slice(0, 200)}`);
  }
  return c as TimmPretrainedCfg;
}

/**
 * Drops the wrappers training scripts put around a state dict: a top-level `state_dict` or `model`
 * entry (flattened by the reader to `state_dict.*` / `model.*`) and DataParallel's `module.` prefix.
 * Only when every key carries the prefix, so a model with a real `model` submodule is left alone.
 */
export function unwrapStateDict(tensors: Map<string, HostEntry>): Map<string, HostEntry> {
  let current = tensors;
  for (const prefix of ['state_dict.', 'model.', 'module.']) {
    const keys = [...current.keys()];
    if (keys.length > 0 && keys.every((k) => k.startsWith(prefix))) {
      current = new Map(keys.map((k) => [k.slice(prefix.length), current.get(k)!]));
    }
  }
  return current;
}

export interface LoadPretrainedOptions {
  /** Strict by default: missing, unexpected and mis-shaped tensors throw, listed by name. */
  strict?: boolean;
  /** Use this preprocessing instead of the weights' own (warned about when it differs). */
  preprocessing?: Preprocessing;
  warn?: (message: string) => void;
}

export interface PretrainedLoad {
  file: string;
  format: WeightsFormat;
  origin: WeightsOrigin;
  /** What inputs must go through: the weights' own preprocessing, or the override. */
  preprocessing: Preprocessing;
  result: LoadResult;
  /** What the user should know about the load (e.g. an ONNX file whose BatchNorms were folded into its convs); also passed to `warn`. */
  warnings: string[];
}

/**
 * Loads the pretrained weights at `path` into `model` (a ResNet, KerasResNet, MobileNetV2 of the
 * matching flavour, any torchvision-named module, or a WithHead whose backbone is one of these:
 * then the backbone is loaded and the head keeps its initialisation). See the file comment.
 */
export async function loadPretrained(model: Module, path: string, options: LoadPretrainedOptions = {}): Promise<PretrainedLoad> {
  const target = model instanceof WithHead && model.backbone instanceof Module ? model.backbone : model;
  const { strict = true, warn = console.warn } = options;
  const format = detectWeightsFormat(path);
  const family = modelFamily(target);
  const kerasFormat = format === 'keras-h5' || format === 'tfjs-layers';
  if (kerasFormat && !family.keras && family.kind !== 'vgg') {
    const hint = family.kind === 'mobilenet_v2' ? "build mobilenetV2 with flavour: 'keras'" : family.kind === 'resnet' ? 'build it with kerasResNet()' : 'Keras weights load into MobileNetV2 (keras flavour) and KerasResNet';
    throw new PretrainedError(`${path}: Keras weights (${format}) cannot load into this ${target.constructor.name} with PyTorch conventions (padding, BN eps and stride placement differ): ${hint}`);
  }
  if (!kerasFormat && format !== 'graft-export' && family.keras) {
    throw new PretrainedError(`${path}: PyTorch-convention weights (${format}) cannot load into a Keras-flavour ${target.constructor.name}: build the torchvision flavour (mobilenetV2() / resnet())`);
  }

  let origin: WeightsOrigin = family.kind === 'keras_resnet' ? 'keras-resnet' : family.keras ? 'keras-mobilenet' : family.kind === 'vgg' && kerasFormat ? 'keras-vgg' : 'torchvision';
  let timmCfg: TimmPretrainedCfg | undefined;
  let hfCfg: HfPreprocessorConfig | undefined;
  let native: Preprocessing | undefined;
  let result: LoadResult;
  const warnings: string[] = [];
  switch (format) {
    case 'safetensors':
    case 'pytorch-zip': {
      const read = format === 'safetensors' ? readSafetensors(path) : unwrapStateDict(readTorchZip(path));
      const { tensors, convention } = toTorchvisionNames(read);
      timmCfg = timmConfigBeside(path);
      if (convention === 'hf-resnet') {
        origin = 'huggingface';
        hfCfg = jsonBeside(path, 'preprocessor_config.json') as HfPreprocessorConfig | undefined;
      } else if (timmCfg || convention === 'timm-mobilenetv2') {
        origin = 'timm';
        timmCfg ??= timmDefaultCfg;
      }
      result = withFile(path, () => loadTorchStateDict(target, tensors, { strict }));
      break;
    }
    case 'onnx': {
      const onnx = loadOnnxInitializers(target, path);
      warnings.push(...onnx.warnings);
      result = { missingKeys: onnx.missingKeys, unexpectedKeys: onnx.unexpectedKeys };
      break;
    }
    case 'keras-h5': {
      const { tensors } = await readKerasH5(path);
      const load = family.kind === 'keras_resnet' ? loadKerasResNet : family.kind === 'vgg' ? loadKerasVgg : loadKerasMobileNetV2;
      result = withFile(path, () => load(target, tensors, { strict }));
      break;
    }
    case 'tfjs-layers': {
      const json = statSync(path).isDirectory() ? join(path, 'model.json') : path;
      const { tensors } = readTfjsLayersModel(json);
      if (family.kind !== 'mobilenet_v2') throw new PretrainedError(`${path}: TF.js layers weights load into MobileNetV2 (keras flavour) only; this is a ${target.constructor.name}`);
      result = withFile(path, () => loadKerasMobileNetV2(target, tensors, { strict }));
      break;
    }
    case 'graft-export': {
      const config = readExportConfig(path);
      native = config.preprocessing as Preprocessing;
      result = withFile(path, () => loadTorchStateDict(target, readSafetensors(join(path, config.weights ?? 'model.safetensors')), { strict }));
      break;
    }
  }
  let preprocessing: Preprocessing;
  if (native) {
    preprocessing = resolveAgainst(native, options.preprocessing, path, warn);
  } else {
    const v2 = origin === 'torchvision' && isTorchvisionV2(path);
    preprocessing = v2 ? resolveAgainst(torchvisionV2, options.preprocessing, path, warn) : resolvePreprocessing(origin, options.preprocessing, { warn, timmCfg, hfCfg });
  }
  for (const w of warnings) warn(w);
  return { file: path, format, origin, preprocessing, result, warnings };
}

/** `override` if given (warned about when it differs from `native`), else `native`. */
function resolveAgainst(native: Preprocessing, override: Preprocessing | undefined, path: string, warn: (m: string) => void): Preprocessing {
  if (!override) return native;
  if (!samePreprocessing(native, override)) warn(`preprocessing '${override.name}' overrides '${native.name}', which ${path} was trained with; predictions may be wrong`);
  return override;
}

/**
 * torchvision's IMAGENET1K_V2 checkpoints (trained with the newer recipe) are evaluated at resize 232,
 * V1 at 256; the file name carries the hash that tells them apart, the content does not.
 */
const torchvisionV2Files = ['resnet50-11ad3fa6', 'resnet101-cd907fc2', 'resnet152-f82ba261', 'mobilenet_v2-7ebf99e0'];

function isTorchvisionV2(path: string): boolean {
  return torchvisionV2Files.some((stem) => basename(path).startsWith(stem));
}

/** Runs a load, prefixing any error with the file it came from (loadStateDict names tensors, not files). */
function withFile<T>(path: string, load: () => T): T {
  try {
    return load();
  } catch (e) {
    const message = (e as Error).message;
    if (message.includes(path)) throw e;
    throw new PretrainedError(`${path}: ${message}`);
  }
}
