/**
 * graft model -> ONNX file, so a fine-tuned model runs in onnxruntime or goes back to PyTorch.
 *
 * The graph is NCHW, as every ONNX runtime expects: input `input` [batch, c, h, w] float32 with a
 * symbolic batch dim (like a torchvision export; the spatial size is fixed because TF-'same' pads and
 * VGG's classifier depend on it), output `logits` (or `features` for a model without a top). Opset 13:
 * the opset torchvision models are usually exported at, supported by every maintained runtime, and
 * every op used here (Clip with min/max inputs, Gemm with optional C, Flatten, BatchNormalization)
 * already has its current form there. IR version 7 is the one that goes with opset 13.
 *
 * Weights are initializers named by graft's (= torchvision's) state-dict keys in PyTorch layouts
 * (torchStateDict: the inverse layout functions of importers/torchLayout.ts), so importers/onnx.ts
 * reads the file back with its name-preserved path. num_batches_tracked is not exported (ONNX has no
 * use for it). A Linear marked with markFlattenedInput (VGG's classifier.0) is exported with its columns in
 * NCHW-flatten order, so the graph flattens NCHW directly, as a torchvision export does; any other
 * flatten of a map is preceded by a Transpose to NHWC, graft's order.
 *
 * Emission is a small registry, one emitter per module class, each mirroring that class's forward
 * (fused activations included); a module without an emitter is an error naming its path and class.
 * The protobuf is written with onnx-proto, atomically (temporary file, then rename).
 */
import { writeFileAtomic } from '../atomicWrite.js';
import {
  BatchNorm2d,
  Conv2d,
  Dropout,
  Flatten,
  GlobalAvgPool,
  Linear,
  MaxPool2d,
  Module,
  ReLU,
  ReLU6,
  Sequential,
  type HostEntry,
} from '@graft/autograd';
import { batchNormDefaults, convOutputSize, pairOf, resolvePadding, type Activation, type Padding } from '@graft/kernels';
import onnxProto from 'onnx-proto';
import { WithHead } from '../head.js';
import { OnnxError } from '../importers/onnx.js';
import { flattenedInputOf, torchStateDict } from '../importers/torchLayout.js';
import { InvertedResidual, MobileNetV2 } from '../mobilenetV2.js';
import { BasicBlock, Bottleneck, ResNetTrunk } from '../resnet.js';
import { KerasBottleneck } from '../resnetKeras.js';
import { AdaptiveAvgPoolIdentity, GlobalMaxPool, VGG } from '../vgg.js';

const { onnx } = onnxProto;

export const onnxOpset = 13;
export const onnxIrVersion = 7;

export interface OnnxExportOptions {
  /** Spatial size of the input, h and w (one number for square); default 224. */
  inputSize?: number | readonly [number, number];
  /** Input channels; default the first conv's inChannels (3 for image models). */
  inChannels?: number;
  /** Output name; default 'logits', or 'features' for a model built without a top. */
  outputName?: string;
  /** The graph name stored in the file; default the model's class name. */
  graphName?: string;
}

/**
 * A value of the graph: its ONNX name and graft's per-sample shape ([h, w, c] for images, [f] for
 * vectors). `chw` marks a vector flattened in PyTorch's NCHW order (what a Linear marked with
 * markFlattenedInput, whose exported columns are in that order, must read).
 */
interface Value {
  name: string;
  shape: number[];
  chw?: boolean;
}

/** The graph under construction: nodes, the initializers it references, and the model's weights by key. */
class GraphBuilder {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers = new Map<string, HostEntry>();
  private count = 0;

  constructor(private readonly weights: Map<string, HostEntry>) {}

  /** Adds a node with one output and returns that output's name. */
  node(op: string, inputs: string[], path: string, attributes: onnxProto.onnx.IAttributeProto[] = []): string {
    const output = `/${path.replaceAll('.', '/')}/${op}_${this.count++}`;
    this.nodes.push({ opType: op, input: inputs, output: [output], name: output, attribute: attributes });
    return output;
  }

  /** A model weight by state-dict key (e.g. `layer1.0.conv1.weight`), as an initializer. */
  weight(key: string): string {
    const entry = this.weights.get(key);
    if (!entry) throw new OnnxError(`exportOnnx: '${key}' is not in the model's state dict`);
    this.initializers.set(key, entry);
    return key;
  }

  /** A constant that is not a model weight (Clip's bounds); the '::' keeps it apart from state-dict keys. */
  constant(name: string, value: number): string {
    const key = `graft::${name}`;
    this.initializers.set(key, { data: Float32Array.of(value), shape: [] });
    return key;
  }
}

const ints = (name: string, values: number[]): onnxProto.onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: values });
const int = (name: string, i: number): onnxProto.onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const float = (name: string, f: number): onnxProto.onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f });

const join = (path: string, field: string) => (path ? `${path}.${field}` : field);

function activation(g: GraphBuilder, x: Value, act: Activation | undefined, path: string): Value {
  if (!act || act === 'none') return x;
  if (act === 'relu') return { name: g.node('Relu', [x.name], path), shape: x.shape };
  return { name: g.node('Clip', [x.name, g.constant('relu6_min', 0), g.constant('relu6_max', 6)], path), shape: x.shape };
}

/** graft's padding (resolved from the input size, so TF 'same' becomes its asymmetric pads) as ONNX [top, left, bottom, right]. */
function windowPads(kind: string, padding: Padding | undefined, x: Value, k: [number, number], stride: [number, number], dilation: [number, number]) {
  const [h, w] = x.shape as [number, number, number];
  const p = resolvePadding(kind, padding, h, w, { kH: k[0], kW: k[1], strideH: stride[0], strideW: stride[1], dilationH: dilation[0], dilationW: dilation[1] });
  const outH = convOutputSize(h, p.top, p.bottom, k[0], stride[0], dilation[0]);
  const outW = convOutputSize(w, p.left, p.right, k[1], stride[1], dilation[1]);
  return { pads: [p.top, p.left, p.bottom, p.right], outH, outW };
}

type Emitter<M extends Module> = (g: GraphBuilder, m: M, path: string, x: Value) => Value;
type ModuleClass<M extends Module> = abstract new (...args: never[]) => M;

/** The registry: class -> emitter; the first class the module is an instance of wins (subclasses before bases). */
const emitters: [ModuleClass<Module>, Emitter<Module>][] = [];
function register<M extends Module>(cls: ModuleClass<M>, emit: Emitter<M>): void {
  emitters.push([cls, emit as Emitter<Module>]);
}

function emit(g: GraphBuilder, m: Module, path: string, x: Value): Value {
  const entry = emitters.find(([cls]) => m instanceof cls);
  if (!entry) {
    throw new OnnxError(`exportOnnx: module '${path || '<root>'}' (${m.constructor.name}) has no ONNX emitter (supported: ${emitters.map(([c]) => c.name).join(', ')})`);
  }
  return entry[1](g, m, path, x);
}

const child = (g: GraphBuilder, parent: Module, path: string, field: string, x: Value): Value =>
  emit(g, (parent as unknown as Record<string, Module>)[field]!, join(path, field), x);

register(Conv2d, (g, m, path, x) => {
  const k = pairOf('Conv2d', 'kernelSize', m.kernelSize);
  const stride = pairOf('Conv2d', 'stride', m.options.stride ?? 1);
  const dilation = pairOf('Conv2d', 'dilation', m.options.dilation ?? 1);
  if (x.shape.length !== 3 || x.shape[2] !== m.inChannels) throw new OnnxError(`exportOnnx: '${path}' (Conv2d) expects ${m.inChannels} channels, gets [${x.shape.join(', ')}]`);
  const { pads, outH, outW } = windowPads('Conv2d', m.options.padding, x, k, stride, dilation);
  const inputs = [x.name, g.weight(join(path, 'weight')), ...(m.bias ? [g.weight(join(path, 'bias'))] : [])];
  const attrs = [ints('kernel_shape', k), ints('strides', stride), ints('pads', pads), ints('dilations', dilation), int('group', m.depthwise ? m.inChannels : 1)];
  const y = { name: g.node('Conv', inputs, path, attrs), shape: [outH, outW, m.outChannels] };
  return activation(g, y, m.options.activation, path);
});

// Eval semantics (running statistics), whatever the module's mode: what an exported model runs.
register(BatchNorm2d, (g, m, path, x) => {
  const inputs = ['weight', 'bias', 'running_mean', 'running_var'].map((f) => g.weight(join(path, f)));
  const y = { name: g.node('BatchNormalization', [x.name, ...inputs], path, [float('epsilon', m.options.eps ?? batchNormDefaults.eps)]), shape: x.shape };
  return activation(g, y, m.options.activation, path);
});

register(Linear, (g, m, path, x) => {
  if (x.shape.length !== 1 || x.shape[0] !== m.inFeatures) throw new OnnxError(`exportOnnx: '${path}' (Linear) expects [${m.inFeatures}] features, gets [${x.shape.join(', ')}]`);
  if (Boolean(flattenedInputOf(m)) !== Boolean(x.chw)) {
    throw new OnnxError(`exportOnnx: '${path}' (Linear) ${x.chw ? 'reads an NCHW flatten but its columns are in NHWC order' : 'has NCHW-ordered columns (markFlattenedInput) but reads an NHWC flatten'}`);
  }
  const inputs = [x.name, g.weight(join(path, 'weight')), ...(m.bias ? [g.weight(join(path, 'bias'))] : [])];
  const y = { name: g.node('Gemm', inputs, path, [int('transB', 1)]), shape: [m.outFeatures] };
  return activation(g, y, m.options.activation, path);
});

register(ReLU, (g, _m, path, x) => activation(g, x, 'relu', path));
register(ReLU6, (g, _m, path, x) => activation(g, x, 'relu6', path));
register(Dropout, (_g, _m, _path, x) => x); // the identity in eval mode

register(GlobalAvgPool, (g, _m, path, x) => ({ name: g.node('Flatten', [g.node('GlobalAveragePool', [x.name], path)], path, [int('axis', 1)]), shape: [x.shape[2]!] }));
register(GlobalMaxPool, (g, _m, path, x) => ({ name: g.node('Flatten', [g.node('GlobalMaxPool', [x.name], path)], path, [int('axis', 1)]), shape: [x.shape[2]!] }));

// graft's max pool pads with -inf, which is what ONNX MaxPool's pads mean too.
register(MaxPool2d, (g, m, path, x) => {
  const k = pairOf('MaxPool2d', 'kernelSize', m.kernelSize);
  const stride = pairOf('MaxPool2d', 'stride', m.stride);
  const { pads, outH, outW } = windowPads('MaxPool2d', m.padding, x, k, stride, [1, 1]);
  return { name: g.node('MaxPool', [x.name], path, [ints('kernel_shape', k), ints('strides', stride), ints('pads', pads)]), shape: [outH, outW, x.shape[2]!] };
});

/**
 * graft flattens NHWC as (h, w, c). By default the ONNX graph transposes NCHW -> NHWC before Flatten,
 * so the order, and every Linear after it, is graft's. With `chw` (the next Linear was marked with
 * markFlattenedInput, so torchStateDict exports its columns in NCHW order) it flattens NCHW directly,
 * as a torchvision export does.
 */
function flattenMap(g: GraphBuilder, x: Value, path: string, chw = false): Value {
  if (x.shape.length === 1) return x;
  const input = chw ? x.name : g.node('Transpose', [x.name], path, [ints('perm', [0, 2, 3, 1])]);
  return { name: g.node('Flatten', [input], path, [int('axis', 1)]), shape: [x.shape.reduce((a, b) => a * b, 1)], chw };
}
register(Flatten, (g, _m, path, x) => flattenMap(g, x, path));

register(AdaptiveAvgPoolIdentity, (_g, m, path, x) => {
  if (x.shape[0] !== m.size || x.shape[1] !== m.size) throw new OnnxError(`exportOnnx: '${path}' (AdaptiveAvgPoolIdentity) needs a ${m.size}x${m.size} map at this input size, gets ${x.shape[0]}x${x.shape[1]}`);
  return x;
});

register(Sequential, (g, m, path, x) => [...m.namedChildren()].reduce((y, [name, layer]) => emit(g, layer, join(path, name), y), x));

register(WithHead, (g, m, path, x) => child(g, m, path, 'head', child(g, m, path, 'backbone', x)));

register(ResNetTrunk, (g, m, path, x) => {
  let y = x;
  for (const field of ['conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2', 'layer3', 'layer4', 'avgpool']) y = child(g, m, path, field, y);
  return m.fc ? child(g, m, path, 'fc', y) : y;
});

/**
 * BasicBlock: relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut); Bottleneck / KerasBottleneck add a
 * relu after bn2 and a conv3/bn3. The main path is emitted before the shortcut, in torchvision's graph
 * order (which is also namedModules order, what importers/onnx.ts assigns renamed initializers by).
 */
const emitBlock: Emitter<BasicBlock | Bottleneck | KerasBottleneck> = (g, m, path, x) => {
  const stages = m instanceof BasicBlock ? ['1', '2'] : ['1', '2', '3'];
  let y = x;
  stages.forEach((s, i) => {
    y = child(g, m, path, `bn${s}`, child(g, m, path, `conv${s}`, y));
    if (i < stages.length - 1) y = child(g, m, path, 'relu', y);
  });
  const identity = m.downsample ? child(g, m, path, 'downsample', x) : x;
  return activation(g, { name: g.node('Add', [y.name, identity.name], path), shape: y.shape }, 'relu', path);
};
register(BasicBlock, emitBlock);
register(Bottleneck, emitBlock);
register(KerasBottleneck, emitBlock);

register(InvertedResidual, (g, m, path, x) => {
  const y = child(g, m, path, 'conv', x);
  return m.useResidual ? { name: g.node('Add', [y.name, x.name], path), shape: y.shape } : y;
});

register(MobileNetV2, (g, m, path, x) => {
  const pooled = child(g, m, path, 'avgpool', child(g, m, path, 'features', x));
  return m.classifier ? child(g, m, path, 'classifier', pooled) : pooled;
});

register(VGG, (g, m, path, x) => {
  const y = child(g, m, path, 'avgpool', child(g, m, path, 'features', x));
  if (!m.classifier) return y;
  const first = m.classifier.at(0);
  const map = first instanceof Linear ? flattenedInputOf(first) : undefined;
  if (map && map.join(',') !== [y.shape[2], y.shape[0], y.shape[1]].join(',')) {
    throw new OnnxError(`exportOnnx: '${join(path, 'classifier.0')}' reads a [${map.join(', ')}] (c, h, w) map, gets [${y.shape.join(', ')}] (h, w, c)`);
  }
  return child(g, m, path, 'classifier', flattenMap(g, y, path, Boolean(map)));
});

/** 'features' when the model was built without a top (no fc / classifier), else 'logits'. */
function defaultOutputName(model: Module): string {
  const fields = model as unknown as Record<string, unknown>;
  return ('fc' in fields && fields['fc'] === null) || ('classifier' in fields && fields['classifier'] === null) ? 'features' : 'logits';
}

function firstConv(model: Module): Conv2d | undefined {
  for (const [, m] of model.namedModules()) if (m instanceof Conv2d) return m;
  return undefined;
}

function tensorProto(name: string, entry: HostEntry): onnxProto.onnx.ITensorProto {
  const bytes = new Uint8Array(entry.data.length * 4);
  const view = new DataView(bytes.buffer);
  entry.data.forEach((v, i) => view.setFloat32(4 * i, v, true));
  return { name, dataType: onnx.TensorProto.DataType.FLOAT, dims: [...entry.shape], rawData: bytes };
}

function valueInfo(name: string, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim } } } };
}

/** The ONNX ModelProto of `model` (eval semantics), encoded. */
export async function encodeOnnx(model: Module, options: OnnxExportOptions = {}): Promise<Uint8Array> {
  const [h, w] = typeof options.inputSize === 'number' ? [options.inputSize, options.inputSize] : (options.inputSize ?? [224, 224]);
  const c = options.inChannels ?? firstConv(model)?.inChannels;
  if (c === undefined) throw new OnnxError('exportOnnx: the model has no Conv2d; give inChannels');
  const outputName = options.outputName ?? defaultOutputName(model);
  const weights = await torchStateDict(model);
  const g = new GraphBuilder(weights);
  const y = emit(g, model, '', { name: 'input', shape: [h, w, c] });
  if (y.name === 'input') throw new OnnxError(`exportOnnx: ${model.constructor.name} is the identity; nothing to export`);
  if (y.shape.length !== 1) throw new OnnxError(`exportOnnx: ${model.constructor.name} ends in an image [${y.shape.join(', ')}], not a vector`);
  for (const n of g.nodes) {
    n.input = n.input!.map((i) => (i === y.name ? outputName : i));
    n.output = n.output!.map((o) => (o === y.name ? outputName : o));
  }
  // Every trained tensor must appear in the graph: a weight the emitters skipped means a forward was not mirrored.
  const unused = [...weights.keys()].filter((k) => !k.endsWith('num_batches_tracked') && !g.initializers.has(k));
  if (unused.length > 0) throw new OnnxError(`exportOnnx: the graph does not use ${unused.join(', ')} (an emitter does not mirror its module's forward)`);
  const proto = onnx.ModelProto.create({
    irVersion: onnxIrVersion,
    opsetImport: [{ domain: '', version: onnxOpset }],
    producerName: 'graft',
    graph: {
      name: options.graphName ?? model.constructor.name,
      node: g.nodes,
      initializer: [...g.initializers].map(([name, entry]) => tensorProto(name, entry)),
      input: [valueInfo('input', ['batch', c, h, w])],
      output: [valueInfo(outputName, ['batch', y.shape[0]!])],
    },
  });
  return onnx.ModelProto.encode(proto).finish();
}

/** Writes `model` as an ONNX file at `path`, atomically (a temporary file beside it, then a rename). */
export async function exportOnnx(model: Module, path: string, options: OnnxExportOptions = {}): Promise<void> {
  const bytes = await encodeOnnx(model, options);
  try {
    writeFileAtomic(path, bytes);
  } catch (e) {
    throw new OnnxError(`${path}: cannot write (${(e as Error).message})`);
  }
}
