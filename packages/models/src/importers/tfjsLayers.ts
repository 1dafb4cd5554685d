/**
 * TF.js layers models (https://www.tensorflow.org/js/guide/save_load): a `model.json` holding the
 * Keras `modelTopology` and a `weightsManifest` — groups of weights `{ name, shape, dtype,
 * quantization? }` whose bytes are the group's shard files (`paths`, relative to model.json)
 * concatenated, weights back to back in manifest order. Quantized weights are dequantized to f32:
 * uint8/uint16 as q·scale + min, float16 widened exactly. Tensors keep their Keras layouts
 * (conv kernels HWIO, depthwise kernels [k_h, k_w, c, 1], Dense kernels [in, out]).
 *
 * `kerasMobileNetV2ToGraft` is the ONE place Keras' MobileNetV2 names and layouts map onto graft's
 * (torchvision-named) MobileNetV2; `loadKerasMobileNetV2` loads through the strict key loop.
 * `loadKerasDenseHead` puts a custom Keras Dense head (e.g. nsfwjs' dense_1..3) onto a graft head.
 * Every error names the file and, where there is one, the weight.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Linear, type HostEntry, type LoadResult, type Module } from '@graft/autograd';
import { MobileNetV2 } from '../mobilenetV2.js';
import { halfToFloat } from './safetensors.js';

export class TfjsLayersError extends Error {
  override name = 'TfjsLayersError';
}

export type TfjsDtype = 'float32' | 'int32' | 'bool';
export type TfjsQuantizationDtype = 'uint8' | 'uint16' | 'float16';

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: TfjsDtype;
  quantization?: { dtype: TfjsQuantizationDtype; scale?: number; min?: number };
}

export interface TfjsWeightsGroup {
  paths: string[];
  weights: TfjsWeightSpec[];
}

export interface TfjsModelJson {
  modelTopology: unknown;
  weightsManifest: TfjsWeightsGroup[];
}

export interface TfjsEntry extends HostEntry {
  /** The stored form: the dtype, or the quantization dtype when quantized (data is always f32). */
  stored: TfjsDtype | TfjsQuantizationDtype;
}

export interface TfjsLayersModel {
  modelTopology: unknown;
  /** Weights by manifest name (e.g. `block_1_depthwise/depthwise_kernel`), in manifest order, Keras layouts. */
  tensors: Map<string, TfjsEntry>;
}

const dtypeBytes: Record<TfjsDtype, number> = { float32: 4, int32: 4, bool: 1 };
const quantBytes: Record<TfjsQuantizationDtype, number> = { uint8: 1, uint16: 2, float16: 2 };

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function specBytes(spec: TfjsWeightSpec, fail: (m: string) => never): { count: number; bytes: number } {
  if (!Array.isArray(spec.shape) || spec.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(`weight '${spec.name}': bad shape ${JSON.stringify(spec.shape)}`);
  const count = spec.shape.reduce((a, b) => a * b, 1);
  if (spec.quantization) {
    const q = spec.quantization.dtype;
    if (!Object.hasOwn(quantBytes, q)) fail(`weight '${spec.name}': unknown quantization dtype '${String(q)}' (known: ${Object.keys(quantBytes).join(', ')})`);
    if (q !== 'float16' && (typeof spec.quantization.scale !== 'number' || typeof spec.quantization.min !== 'number')) {
      fail(`weight '${spec.name}': ${q} quantization needs numeric scale and min`);
    }
    return { count, bytes: count * quantBytes[q] };
  }
  if (!Object.hasOwn(dtypeBytes, spec.dtype)) fail(`weight '${spec.name}': unsupported dtype '${String(spec.dtype)}' (supported: ${Object.keys(dtypeBytes).join(', ')})`);
  return { count, bytes: count * dtypeBytes[spec.dtype] };
}

function decode(spec: TfjsWeightSpec, bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  const q = spec.quantization;
  if (q) {
    const scale = q.scale ?? 1;
    const min = q.min ?? 0;
    if (q.dtype === 'uint8') for (let i = 0; i < count; i++) out[i] = bytes[i]! * scale + min;
    else if (q.dtype === 'uint16') for (let i = 0; i < count; i++) out[i] = view.getUint16(2 * i, true) * scale + min;
    else for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
    return out;
  }
  if (spec.dtype === 'float32') for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  else if (spec.dtype === 'int32') for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
  else for (let i = 0; i < count; i++) out[i] = bytes[i]! ? 1 : 0;
  return out;
}

/**
 * Decodes a parsed model.json given its shards' bytes (`shards(path)` by manifest path; return
 * undefined for a missing shard). `file` names model.json in errors.
 */
export function parseTfjsLayersModel(json: unknown, shards: (path: string) => Uint8Array | undefined, file = '<memory>'): TfjsLayersModel {
  const fail = (message: string): never => {
    throw new TfjsLayersError(`${file}: ${message}`);
  };
  if (!isRecord(json)) fail('not a JSON object');
  const { modelTopology, weightsManifest } = json as Record<string, unknown>;
  if (!Array.isArray(weightsManifest)) fail('no weightsManifest array');
  const tensors = new Map<string, TfjsEntry>();
  (weightsManifest as unknown[]).forEach((group, g) => {
    if (!isRecord(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) fail(`weightsManifest[${g}] needs paths and weights arrays`);
    const { paths, weights } = group as unknown as TfjsWeightsGroup;
    const parts = paths.map((p) => shards(p) ?? fail(`weightsManifest[${g}]: missing shard file '${p}'`));
    const total = parts.reduce((n, p) => n + p.length, 0);
    const data = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      data.set(p, at);
      at += p.length;
    }
    const sizes = weights.map((w) => {
      if (!isRecord(w) || typeof w.name !== 'string') fail(`weightsManifest[${g}]: a weight without a name`);
      return specBytes(w, fail);
    });
    const tooBig = sizes.findIndex((s) => s.bytes > total);
    if (tooBig >= 0) {
      const w = weights[tooBig]!;
      fail(`weight '${w.name}': shape [${w.shape.join(', ')}] needs ${sizes[tooBig]!.bytes} bytes but the shards of weightsManifest[${g}] hold ${total}`);
    }
    const expected = sizes.reduce((n, s) => n + s.bytes, 0);
    if (expected !== total) {
      fail(`weightsManifest[${g}]: shards ${paths.map((p) => `'${p}'`).join(', ')} hold ${total} bytes but the manifest's weights need ${expected}`);
    }
    let offset = 0;
    weights.forEach((spec, i) => {
      const { count, bytes } = sizes[i]!;
      if (tensors.has(spec.name)) fail(`weight '${spec.name}' appears twice in the manifest`);
      tensors.set(spec.name, { data: decode(spec, data.subarray(offset, offset + bytes), count), shape: [...spec.shape], stored: spec.quantization?.dtype ?? spec.dtype });
      offset += bytes;
    });
  });
  return { modelTopology, tensors };
}

/** Reads model.json and its shard files (paths relative to model.json's directory). */
export function readTfjsLayersModel(modelJsonPath: string): TfjsLayersModel {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(modelJsonPath, 'utf8'));
  } catch (e) {
    throw new TfjsLayersError(`${modelJsonPath}: cannot read model.json: ${(e as Error).message}`);
  }
  const dir = dirname(modelJsonPath);
  return parseTfjsLayersModel(
    json,
    (path) => {
      try {
        return new Uint8Array(readFileSync(join(dir, path)));
      } catch {
        return undefined;
      }
    },
    modelJsonPath,
  );
}

const bnFields: Record<string, string> = { gamma: 'weight', beta: 'bias', moving_mean: 'running_mean', moving_variance: 'running_var' };

/**
 * Keras MobileNetV2 weight name -> graft (torchvision) name, or undefined for a weight that is not
 * part of the backbone (e.g. a custom head's Dense layers):
 *   Conv1 / bn_Conv1 -> features.0.{0,1}; expanded_conv_{depthwise,project}[_BN] -> features.1.conv.{0.0,0.1,1,2};
 *   block_i_{expand,depthwise,project}[_BN] -> features.(i+1).conv.{0.0,0.1,1.0,1.1,2,3};
 *   Conv_1 / Conv_1_bn -> features.<lastFeature>.{0,1} (18 for the standard table); Logits (Keras' own top) -> classifier.1.
 * Field names: kernel / depthwise_kernel -> weight; gamma, beta, moving_mean, moving_variance ->
 * weight, bias, running_mean, running_var.
 */
export function kerasMobileNetV2Name(name: string, lastFeature = 18): string | undefined {
  const m = /^(.+)\/([a-z_]+)(?::\d+)?$/.exec(name);
  if (!m) return undefined;
  const [, layer, field] = m as unknown as [string, string, string];
  const bn = (prefix: string) => (bnFields[field] ? `${prefix}.${bnFields[field]}` : undefined);
  const conv = (prefix: string) => (field === 'kernel' || field === 'depthwise_kernel' ? `${prefix}.weight` : undefined);
  if (layer === 'Conv1') return conv('features.0.0');
  if (layer === 'bn_Conv1') return bn('features.0.1');
  if (layer === 'Conv_1') return conv(`features.${lastFeature}.0`);
  if (layer === 'Conv_1_bn') return bn(`features.${lastFeature}.1`);
  if (layer === 'Logits') return field === 'kernel' ? 'classifier.1.weight' : field === 'bias' ? 'classifier.1.bias' : undefined;
  const block = /^(?:expanded_conv|block_(\d+))_(expand|depthwise|project)(_BN)?$/.exec(layer);
  if (!block) return undefined;
  const index = block[1] === undefined ? 1 : Number(block[1]) + 1;
  const expands = block[1] !== undefined; // expanded_conv (t = 1) has no expansion conv
  const slot = { expand: [0, 0], depthwise: expands ? [1, 0] : [0, 0], project: expands ? [2, 3] : [1, 2] }[block[2] as 'expand' | 'depthwise' | 'project'];
  if (block[2] === 'expand' && !expands) return undefined;
  const base = `features.${index}.conv`;
  if (block[2] === 'project') return block[3] ? bn(`${base}.${slot[1]}`) : conv(`${base}.${slot[0]}`);
  return block[3] ? bn(`${base}.${slot[0]}.1`) : conv(`${base}.${slot[0]}.0`);
}

/** [in, out] -> [out, in]. */
function transpose2d(w: HostEntry): HostEntry {
  const [i, o] = w.shape as [number, number];
  const out = new Float32Array(w.data.length);
  for (let a = 0; a < i; a++) for (let b = 0; b < o; b++) out[b * i + a] = w.data[a * o + b]!;
  return { data: out, shape: [o, i] };
}

/**
 * Keras MobileNetV2 tensors -> graft's names and layouts: conv kernels stay HWIO; depthwise
 * kernels [k_h, k_w, c, 1] -> [k_h, k_w, c]; BN fields renamed; the Keras top's Dense kernel
 * [in, out] -> [out, in]. Each BN also gets num_batches_tracked = 0 (Keras keeps none). Weights
 * that are not MobileNetV2's keep their Keras names and are returned in `unmapped`. `lastFeature`:
 * the index of the final 1x1 conv in `features` (18 for the standard table; fewer for a custom one).
 */
export function kerasMobileNetV2ToGraft(tensors: Map<string, HostEntry>, { lastFeature = 18 }: { lastFeature?: number } = {}): { mapped: Map<string, HostEntry>; unmapped: string[] } {
  const mapped = new Map<string, HostEntry>();
  const unmapped: string[] = [];
  for (const [name, entry] of tensors) {
    const target = kerasMobileNetV2Name(name, lastFeature);
    if (!target) {
      unmapped.push(name);
      continue;
    }
    let value = entry;
    if (name.includes('/depthwise_kernel')) {
      if (entry.shape.length !== 4 || entry.shape[3] !== 1) throw new TfjsLayersError(`kerasMobileNetV2ToGraft: '${name}' has shape [${entry.shape.join(', ')}], not [k_h, k_w, c, 1]`);
      value = { data: entry.data, shape: entry.shape.slice(0, 3) };
    } else if (target === 'classifier.1.weight') value = transpose2d(entry);
    mapped.set(target, value);
    if (target.endsWith('.running_var')) mapped.set(target.replace(/running_var$/, 'num_batches_tracked'), { data: new Float32Array(1), shape: [1] });
  }
  return { mapped, unmapped };
}

/**
 * Loads Keras MobileNetV2 weights (from readTfjsLayersModel) into a graft MobileNetV2 (build it with
 * flavour 'keras'; a custom table's last feature index is read off the model). Strict by default; weights outside the mapping stay under their Keras names, so
 * a non-strict load lists them in `unexpectedKeys` and a strict one throws naming them.
 */
export function loadKerasMobileNetV2(model: Module, tensors: Map<string, HostEntry>, { strict = true }: { strict?: boolean } = {}): LoadResult {
  const { mapped, unmapped } = kerasMobileNetV2ToGraft(tensors, { lastFeature: model instanceof MobileNetV2 ? model.features.length - 1 : 18 });
  for (const name of unmapped) mapped.set(name, tensors.get(name)!);
  return model.loadStateDict(mapped, { strict });
}

/**
 * Loads Keras Dense layers (`<layer>/kernel` [in, out], `<layer>/bias` [out]) onto a graft head's
 * Linear layers (weight [out, in]), pairing them in order: `denseLayers[i]` fills the i-th Linear in
 * the head's module order. For a custom head on a Keras backbone, e.g. nsfwjs' dense_1..3 onto
 * graftHead(gpu, 1280, { hidden: [256, 128], classes: 5 }). Activations and dropout are the head's
 * construction, not weights: build it to match the Keras topology. Strict by default.
 */
export function loadKerasDenseHead(head: Module, tensors: Map<string, HostEntry>, denseLayers: readonly string[], { strict = true }: { strict?: boolean } = {}): LoadResult {
  const linears = [...head.namedModules()].filter((e): e is [string, Linear] => e[1] instanceof Linear);
  if (linears.length !== denseLayers.length) {
    throw new TfjsLayersError(`loadKerasDenseHead: the head has ${linears.length} Linear layers (${linears.map(([n]) => n || '<root>').join(', ')}) but ${denseLayers.length} Keras Dense layers were given (${denseLayers.join(', ')})`);
  }
  const state = new Map<string, HostEntry>();
  denseLayers.forEach((layer, i) => {
    const [path, linear] = linears[i]!;
    const at = (field: string) => (path ? `${path}.${field}` : field);
    const kernel = tensors.get(`${layer}/kernel`);
    if (!kernel) throw new TfjsLayersError(`loadKerasDenseHead: no weight '${layer}/kernel' for Linear '${at('weight')}'`);
    if (kernel.shape.length !== 2) throw new TfjsLayersError(`loadKerasDenseHead: '${layer}/kernel' has shape [${kernel.shape.join(', ')}], not a Dense kernel [in, out]`);
    state.set(at('weight'), transpose2d(kernel));
    const bias = tensors.get(`${layer}/bias`);
    if (linear.bias && !bias) throw new TfjsLayersError(`loadKerasDenseHead: no weight '${layer}/bias' for Linear '${at('bias')}'`);
    if (bias) state.set(at('bias'), bias);
  });
  return head.loadStateDict(state, { strict });
}
