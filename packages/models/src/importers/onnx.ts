/**
 * ONNX initializers -> graft modules. The protobuf is decoded by `onnx-proto` (the generated protobufjs
 * classes of onnx.proto); only `graph.initializer` (the weights) and `graph.node` (which initializer
 * feeds which Conv / BatchNormalization / Gemm) are read. Initializers become host f32 tensors:
 * FLOAT from float_data or little-endian raw_data, FLOAT16 (raw_data or the bit patterns in int32_data),
 * DOUBLE and INT64 widened/converted. Every error names the file and, where there is one, the initializer.
 *
 * Two ways onto a graft model (both end in loadTorchStateDict, the one place layouts are converted):
 *  - names preserved (initializer names equal the torchvision state-dict keys, as in a
 *    do_constant_folding=False TRAINING-mode export): a key-for-key load, strict except that ONNX has
 *    no num_batches_tracked (the model keeps its own).
 *  - renamed (`onnx::Conv_123`): graph.node is walked in order and each Conv's weight/bias, each
 *    BatchNormalization's scale/B/mean/var and each Gemm's B/C are assigned to graft's Conv2d /
 *    BatchNorm2d / Linear modules in namedModules() order; counts and shapes must agree. A graph with
 *    no BatchNormalization node for a model with BatchNorm2d layers had BN folded into its convs
 *    (PyTorch does this in every eval-mode export): it loads with each BN as the identity plus the
 *    folded conv bias (see byGraphOrder), and the result says so (bnFolded, warnings).
 */
import { readFileSync } from 'node:fs';
import { BatchNorm2d, Conv2d, Linear, type HostEntry, type LoadResult, type Module } from '@graft/autograd';
import { batchNormDefaults } from '@graft/kernels';
import onnxProto from 'onnx-proto';
import { halfToFloat } from './safetensors.js';
import { loadTorchStateDict } from './torchLayout.js';

const { onnx } = onnxProto;

export class OnnxError extends Error {
  override name = 'OnnxError';
}

export type OnnxDtype = 'FLOAT' | 'FLOAT16' | 'DOUBLE' | 'INT64';

export interface OnnxEntry extends HostEntry {
  /** The element type stored in the file (data is always f32). */
  dtype: OnnxDtype;
}

export interface OnnxNode {
  opType: string;
  name: string;
  inputs: string[];
  /** Integer attributes (e.g. Gemm's transA/transB). */
  ints: Record<string, number>;
}

export interface OnnxModel {
  /** The file (or label) the model came from, for error messages. */
  file: string;
  initializers: Map<string, OnnxEntry>;
  nodes: OnnxNode[];
}

const dtypeNames: Record<number, OnnxDtype> = { 1: 'FLOAT', 10: 'FLOAT16', 11: 'DOUBLE', 7: 'INT64' };
const bytesPer: Record<OnnxDtype, number> = { FLOAT: 4, FLOAT16: 2, DOUBLE: 8, INT64: 8 };

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  if (v && typeof v === 'object' && 'toNumber' in v) return (v as { toNumber(): number }).toNumber();
  return Number(v);
}

function decodeTensor(file: string, t: onnxProto.onnx.ITensorProto): OnnxEntry {
  const name = t.name ?? '';
  const fail = (msg: string): never => {
    throw new OnnxError(`${file}: initializer '${name}': ${msg}`);
  };
  if (t.dataLocation === 1) fail('uses external data, which is not supported (save with the weights inside the .onnx file)');
  const dtype = dtypeNames[t.dataType ?? 0];
  if (!dtype) fail(`unsupported data type ${t.dataType} (FLOAT, FLOAT16, DOUBLE and INT64 are read)`);
  const shape = (t.dims ?? []).map(toNumber);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(`bad shape [${shape.join(', ')}]`);
  const count = shape.reduce((a, b) => a * b, 1);
  const raw = t.rawData;
  // The declared size is checked against the bytes or values present before anything is allocated.
  let out: Float32Array;
  if (raw && raw.length > 0) {
    const want = count * bytesPer[dtype!];
    if (raw.length !== want) fail(`raw_data has ${raw.length} bytes but ${dtype} [${shape.join(', ')}] needs ${want}`);
    out = new Float32Array(count);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) {
      if (dtype === 'FLOAT') out[i] = view.getFloat32(4 * i, true);
      else if (dtype === 'FLOAT16') out[i] = halfToFloat(view.getUint16(2 * i, true));
      else if (dtype === 'DOUBLE') out[i] = view.getFloat64(8 * i, true);
      else out[i] = Number(view.getBigInt64(8 * i, true));
    }
  } else {
    const values: unknown[] =
      (dtype === 'FLOAT' ? t.floatData : dtype === 'DOUBLE' ? t.doubleData : dtype === 'INT64' ? t.int64Data : t.int32Data) ?? [];
    if (values.length !== count) fail(`has ${values.length} values but shape [${shape.join(', ')}] needs ${count}`);
    out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = dtype === 'FLOAT16' ? halfToFloat(toNumber(values[i]) & 0xffff) : toNumber(values[i]);
  }
  return { data: out, shape, dtype: dtype! };
}

/** Decodes an ONNX ModelProto from memory; `file` labels the errors. */
export function parseOnnx(bytes: Uint8Array, file = '<memory>'): OnnxModel {
  let model: InstanceType<typeof onnx.ModelProto>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxError(`${file}: not a valid ONNX model (${(e as Error).message})`);
  }
  const graph = model.graph;
  if (!graph) throw new OnnxError(`${file}: not a valid ONNX model (no graph)`);
  const initializers = new Map<string, OnnxEntry>();
  for (const t of graph.initializer ?? []) {
    const name = t.name ?? '';
    if (initializers.has(name)) throw new OnnxError(`${file}: initializer '${t.name}' appears twice`);
    initializers.set(name, decodeTensor(file, t));
  }
  if (initializers.size === 0) throw new OnnxError(`${file}: the graph has no initializers (exported without export_params?)`);
  const nodes = (graph.node ?? []).map((n) => ({
    opType: n.opType ?? '',
    name: n.name ?? '',
    inputs: [...(n.input ?? [])],
    ints: Object.fromEntries((n.attribute ?? []).map((a) => [a.name ?? '', toNumber(a.i)])) as Record<string, number>,
  }));
  return { file, initializers, nodes };
}

/** Reads and decodes an .onnx file. */
export function readOnnx(path: string): OnnxModel {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new OnnxError(`${path}: cannot read (${(e as Error).message})`);
  }
  return parseOnnx(bytes, path);
}

/** The shape the PyTorch-layout tensor for graft key `key` must have (graft HWIO -> OIHW for convs). */
function torchShape(graftShape: readonly number[], owner: Module, field: string): number[] {
  if (owner instanceof Conv2d && field === 'weight') {
    if (owner.depthwise) {
      const [kh, kw, c] = graftShape as [number, number, number];
      return [c, 1, kh, kw];
    }
    const [kh, kw, i, o] = graftShape as [number, number, number, number];
    return [o, i, kh, kw];
  }
  return [...graftShape];
}

function transpose2d(e: OnnxEntry): OnnxEntry {
  const [r, c] = e.shape as [number, number];
  const out = new Float32Array(e.data.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = e.data[i * c + j]!;
  return { data: out, shape: [c, r], dtype: e.dtype };
}

type GraphOp = 'Conv' | 'BatchNormalization' | 'Gemm';
const graphOps: GraphOp[] = ['Conv', 'BatchNormalization', 'Gemm'];
const opFields: Record<GraphOp, string[]> = {
  Conv: ['weight', 'bias'],
  BatchNormalization: ['weight', 'bias', 'running_mean', 'running_var'],
  Gemm: ['weight', 'bias'],
};

/**
 * For a BN-folded graph: each graft BatchNorm2d and the Conv2d right before it in namedModules order
 * (Conv2d / BatchNorm2d / Linear only), which is the conv whose folded bias it receives. Every BN must
 * follow a conv of its width; otherwise the folded weights cannot be placed.
 */
function foldedPairs(file: string, modules: [string, Module][]): Map<string, [string, BatchNorm2d]> {
  const pairs = new Map<string, [string, BatchNorm2d]>();
  modules.forEach(([name, m], i) => {
    if (!(m instanceof BatchNorm2d)) return;
    const [convName, conv] = modules[i - 1] ?? ['', undefined];
    if (!(conv instanceof Conv2d) || conv.outChannels !== m.numFeatures) {
      throw new OnnxError(`${file}: BatchNorm was folded into the convolutions at export, but graft's '${name}' does not directly follow a Conv2d of ${m.numFeatures} channels, so its folded bias has no conv to come from`);
    }
    pairs.set(convName, [name, m]);
  });
  return pairs;
}

/**
 * The initializers by graft state-dict key, assigned by walking graph.node (for renamed initializers).
 * `bnFolded`: the graph has no BatchNormalization node while the model has BatchNorm2d layers (PyTorch's
 * default eval export folds each BN into the conv before it: W' = W * gamma / sqrt(var + eps),
 * b' = beta + (b - mean) * gamma / sqrt(var + eps)). Then the folded W' goes into graft's Conv2d and b'
 * into the following BatchNorm2d as beta, with gamma 1, running_mean 0 and running_var 1 - eps: eval-mode
 * BN is exactly x + b', so the outputs are the file's (a conv bias graft also has is set to 0).
 */
function byGraphOrder(model: Module, onnxModel: OnnxModel): { entries: Map<string, HostEntry>; bnFolded: boolean } {
  const { file, initializers, nodes } = onnxModel;
  const layers: [string, Module][] = [...model.namedModules()].filter(([, m]) => m instanceof Conv2d || m instanceof BatchNorm2d || m instanceof Linear);
  const graft: Record<GraphOp, [string, Module][]> = {
    Conv: layers.filter(([, m]) => m instanceof Conv2d),
    BatchNormalization: layers.filter(([, m]) => m instanceof BatchNorm2d),
    Gemm: layers.filter(([, m]) => m instanceof Linear),
  };
  const graphNodes: Record<GraphOp, OnnxNode[]> = { Conv: [], BatchNormalization: [], Gemm: [] };
  for (const n of nodes) if ((graphOps as string[]).includes(n.opType)) graphNodes[n.opType as GraphOp].push(n);
  const counts = (k: GraphOp) => `${graphNodes[k].length} ${k} nodes, the model has ${graft[k].length}`;
  const nBn = graphNodes.BatchNormalization.length;
  const bnFolded = nBn === 0 && graft.BatchNormalization.length > 0 && graphNodes.Conv.length === graft.Conv.length;
  if (nBn > 0 && nBn < graft.BatchNormalization.length && graphNodes.Conv.length === graft.Conv.length) {
    throw new OnnxError(`${file}: BatchNorm was folded into some convolutions but not others (${counts('BatchNormalization')}); cannot tell which conv carries which BN`);
  }
  for (const k of graphOps) {
    if (bnFolded && k === 'BatchNormalization') continue;
    if (graphNodes[k].length !== graft[k].length) throw new OnnxError(`${file}: the graph has ${counts(k)}; cannot assign initializers by position`);
  }
  const pairs = bnFolded ? foldedPairs(file, layers) : new Map<string, [string, BatchNorm2d]>();
  const state = model.stateDict();
  const out = new Map<string, HostEntry>();
  const filled = (n: number, value: number): HostEntry => ({ data: new Float32Array(n).fill(value), shape: [n] });
  for (const k of graphOps) {
    graphNodes[k].forEach((node, index) => {
      const [prefix, owner] = graft[k][index]!;
      const bn = pairs.get(prefix);
      opFields[k].forEach((field, f) => {
        const key = prefix ? `${prefix}.${field}` : field;
        const input = node.inputs[f + 1];
        const target = state[key];
        if (bn && field === 'bias') {
          // Folded: the conv's bias becomes its BN's beta; the BN is the identity plus that bias.
          const [bnName, bnModule] = bn;
          const c = bnModule.numFeatures;
          const bias = input ? initializers.get(input) : undefined;
          if (input && !bias) throw new OnnxError(`${file}: Conv node '${node.name}' input '${input}' is not an initializer`);
          if (bias && bias.shape.join(',') !== String(c)) {
            throw new OnnxError(`${file}: initializer '${input}' (Conv node '${node.name}', folded bias) has shape [${bias.shape.join(', ')}] but graft's '${bnName}.bias' expects [${c}]`);
          }
          const eps = bnModule.options.eps ?? batchNormDefaults.eps;
          out.set(`${bnName}.weight`, filled(c, 1));
          out.set(`${bnName}.bias`, bias ?? filled(c, 0));
          out.set(`${bnName}.running_mean`, filled(c, 0));
          out.set(`${bnName}.running_var`, filled(c, 1 - eps));
          if (target) out.set(key, filled(target.shape[0]!, 0));
          return;
        }
        if (!target) {
          if (input) throw new OnnxError(`${file}: ${k} node '${node.name}' has input '${input}' but graft's '${prefix}' has no ${field}`);
          return;
        }
        if (!input) throw new OnnxError(`${file}: ${k} node '${node.name}' has no ${field} input but graft's '${key}' needs one`);
        let entry = initializers.get(input);
        if (!entry) throw new OnnxError(`${file}: ${k} node '${node.name}' input '${input}' is not an initializer`);
        if (k === 'Gemm' && field === 'weight' && !node.ints['transB'] && entry.shape.length === 2) entry = transpose2d(entry);
        const want = torchShape(target.shape, owner, field);
        if (entry.shape.join(',') !== want.join(',')) {
          throw new OnnxError(`${file}: initializer '${input}' (${k} node '${node.name}') has shape [${entry.shape.join(', ')}] but graft's '${key}' expects [${want.join(', ')}]`);
        }
        out.set(key, entry);
      });
    });
  }
  return { entries: out, bnFolded };
}

/** What loadOnnxInitializers did, beyond LoadResult's keys. */
export interface OnnxLoadResult extends LoadResult {
  /** BatchNorm had been folded into the convs at export (see byGraphOrder): eval outputs match, BN statistics are not the original's. */
  bnFolded: boolean;
  /** Things a caller should know about the loaded weights (one sentence each, naming the file). */
  warnings: string[];
}

/**
 * Loads an ONNX model's initializers into `model` (a graft model with torchvision names, e.g. ResNet):
 * by name when the initializers carry the state-dict keys, else by graph order (see the file comment).
 * Strict: every parameter and running statistic must be supplied (num_batches_tracked, which ONNX
 * does not carry, keeps the model's value), and name-preserved files may not carry unexpected weights.
 */
export function loadOnnxInitializers(model: Module, source: string | OnnxModel): OnnxLoadResult {
  const onnxModel = typeof source === 'string' ? readOnnx(source) : source;
  const { file, initializers } = onnxModel;
  const keys = Object.keys(model.stateDict()).filter((k) => !k.endsWith('num_batches_tracked'));
  const named = keys.every((k) => initializers.has(k));
  const { entries, bnFolded } = named ? { entries: new Map(keys.map((k) => [k, initializers.get(k)!])), bnFolded: false } : byGraphOrder(model, onnxModel);
  let result: LoadResult;
  try {
    result = loadTorchStateDict(model, entries, { strict: false });
  } catch (e) {
    throw new OnnxError(`${file}: ${(e as Error).message}`);
  }
  const missingKeys = result.missingKeys.filter((k) => !k.endsWith('num_batches_tracked'));
  if (missingKeys.length > 0 || result.unexpectedKeys.length > 0 || (result.misShapedKeys ?? []).length > 0) {
    throw new OnnxError(`${file}: missing ${JSON.stringify(missingKeys)}, unexpected ${JSON.stringify(result.unexpectedKeys)}, mis-shaped ${JSON.stringify(result.misShapedKeys ?? [])}`);
  }
  const warnings = bnFolded
    ? [
        `${file}: BatchNorm was folded into the convolutions at export; each folded conv bias was loaded as its BatchNorm2d's beta ` +
          `(gamma 1, running_mean 0, running_var 1 - eps): eval-mode outputs are the file's, but the BN statistics are not the ` +
          `original model's, so fine-tuning starts from an identity BN (re-export with training=TrainingMode.TRAINING, ` +
          `do_constant_folding=False to keep them)`,
      ]
    : [];
  return { missingKeys, unexpectedKeys: [], bnFolded, warnings };
}
