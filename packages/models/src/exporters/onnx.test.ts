/**
 * exportOnnx against onnxruntime-node: each tiny model is exported, the file is run by ORT on the same
 * input (NHWC -> NCHW) and compared with graft's eval-mode forward; the file is then read back with
 * loadOnnxInitializers into a fresh model (the name-preserved path), which must give identical outputs.
 * BatchNorm statistics are randomized first (a fresh BN is the identity and would hide mistakes in eps,
 * mean or variance), and the tiny ResNets / MobileNetV2 use the trained-looking fixture weights.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchNorm2d, Module, noGrad, ReLU, Sequential, seededRandom, tensor, type HostEntry, type Layer, type Tensor } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { expectClose, testGpu } from '@graft/kernels/testing';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graftHead, withHead } from '../head.js';
import { loadOnnxInitializers, OnnxError, readOnnx } from '../importers/onnx.js';
import { readSafetensors } from '../importers/safetensors.js';
import { loadTorchStateDict } from '../importers/torchLayout.js';
import { MobileNetV2, type InvertedResidualRow } from '../mobilenetV2.js';
import { BasicBlock, Bottleneck, ResNet } from '../resnet.js';
import { KerasResNet } from '../resnetKeras.js';
import { VGG } from '../vgg.js';
import { encodeOnnx, exportOnnx, onnxOpset } from './onnx.js';

const { onnx } = onnxProto;
// Two f32 implementations of the same graph (ORT's MLAS vs graft's WGSL kernels) sum in different
// orders; over these tiny models that is ~1e-6 relative, so 1e-4 leaves headroom, while a wrong pad,
// eps, layout or flatten order moves the outputs by O(0.01-1).
const tolerance = { rtol: 1e-4, atol: 1e-4 };
const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));
const mobileTable: InvertedResidualRow[] = [
  [1, 8, 1, 1],
  [6, 16, 2, 2],
  [6, 24, 1, 2],
];

let gpu: Gpu;
let dir: string;
beforeAll(async () => {
  gpu = await testGpu();
  dir = mkdtempSync(join(tmpdir(), 'graft-onnx-export-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Non-trivial BN parameters and statistics (variance in [0.5, 1.5)), so eval-mode BN is not the identity. */
function randomizeBatchNorm(model: Module, seed = 7): void {
  const random = seededRandom(seed);
  const fill = (n: number, lo: number, hi: number): HostEntry => ({ data: Float32Array.from({ length: n }, () => lo + (hi - lo) * random()), shape: [n] });
  for (const [, m] of model.namedModules()) {
    if (!(m instanceof BatchNorm2d)) continue;
    const n = m.numFeatures;
    m.loadStateDict(
      { weight: fill(n, 0.5, 1.5), bias: fill(n, -0.3, 0.3), running_mean: fill(n, -0.3, 0.3), running_var: fill(n, 0.5, 1.5), num_batches_tracked: { data: Float32Array.of(3), shape: [1] } },
      { strict: false },
    );
  }
}

const nhwcInput = (n: number, h: number, w: number, c: number) => Float32Array.from({ length: n * h * w * c }, (_, i) => Math.sin(i * 0.37) + 0.5 * Math.cos(i * 0.11));

function toNchw(data: Float32Array, [n, h, w, c]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n!; b++)
    for (let y = 0; y < h!; y++) for (let x = 0; x < w!; x++) for (let ch = 0; ch < c!; ch++) out[((b * c! + ch) * h! + y) * w! + x] = data[((b * h! + y) * w! + x) * c! + ch]!;
  return out;
}

async function graftForward(model: Layer, data: Float32Array, shape: number[]): Promise<Float32Array> {
  model.eval();
  const x = tensor(gpu, data, shape);
  const y: Tensor = noGrad(() => model.forward(x));
  const values = await y.read();
  y.release();
  x.release();
  return values;
}

async function ortForward(path: string, data: Float32Array, shape: number[], output: string): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path);
  const [n, h, w, c] = shape as [number, number, number, number];
  const result = await session.run({ input: new ort.Tensor('float32', toNchw(data, shape), [n, c, h, w]) });
  await session.release();
  expect(Object.keys(result)).toEqual([output]);
  return result[output]!.data as Float32Array;
}

let fileCount = 0;
/**
 * Exports `model`, checks ORT against graft on input [2, size, size, c], and re-imports the file into
 * `fresh()` (identical outputs). Returns the max |ORT - graft| for the report.
 */
async function roundTrip(label: string, model: Layer, fresh: () => Layer, size: number, output = 'logits'): Promise<number> {
  const shape = [2, size, size, 3];
  const data = nhwcInput(2, size, size, 3);
  const path = join(dir, `${label}-${fileCount++}.onnx`);
  await exportOnnx(model, path, { inputSize: size });
  const expected = await graftForward(model, data, shape);
  const got = await ortForward(path, data, shape, output);
  expectClose(got, expected, tolerance, `${label}: onnxruntime vs graft`);
  const copy = fresh();
  expect(loadOnnxInitializers(copy, path)).toMatchObject({ missingKeys: [], unexpectedKeys: [] });
  expect(await graftForward(copy, data, shape)).toEqual(expected);
  copy.release();
  const diff = Math.max(...got.map((v, i) => Math.abs(v - expected[i]!)));
  console.log(`exportOnnx ${label}: max |ort - graft| = ${diff.toExponential(2)}`);
  return diff;
}

describe('exportOnnx -> onnxruntime-node', () => {
  it('tiny ResNet, basic blocks (fixture weights): ORT matches graft; re-import is identical; NCHW input with a symbolic batch', async () => {
    const build = () => new ResNet(gpu, BasicBlock, [1, 1, 1, 1], { widths: [4, 8, 16, 32], numClasses: 10 });
    const model = build();
    loadTorchStateDict(model, readSafetensors(fixture('resnet_tiny_basic.safetensors')));
    await roundTrip('resnet-basic', model, build, 32);
    const proto = onnx.ModelProto.decode(await encodeOnnx(model, { inputSize: 32 }));
    expect(proto.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', onnxOpset]]);
    expect(proto.graph!.input![0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['batch', 3, 32, 32]);
    expect(proto.graph!.output!.map((o) => o.name)).toEqual(['logits']);
    expect(proto.graph!.initializer!.map((t) => t.name)).toContain('layer2.0.downsample.1.running_var');
    expect(proto.graph!.initializer!.some((t) => t.name!.endsWith('num_batches_tracked'))).toBe(false);
    model.release();
  });

  it('tiny ResNet, bottleneck blocks (fixture weights)', async () => {
    const build = () => new ResNet(gpu, Bottleneck, [1, 1, 1, 1], { widths: [4, 8, 8, 8], numClasses: 10 });
    const model = build();
    loadTorchStateDict(model, readSafetensors(fixture('resnet_tiny_bottleneck.safetensors')));
    await roundTrip('resnet-bottleneck', model, build, 32);
    model.release();
  });

  it('tiny KerasResNet (v1 bottlenecks, convs with bias, BN eps 1.001e-5)', async () => {
    const build = () => new KerasResNet(gpu, { widths: [2, 4, 4, 8], blocks: [2, 1, 1, 1], numClasses: 6 });
    const model = build();
    randomizeBatchNorm(model);
    await roundTrip('keras-resnet', model, build, 32);
    model.release();
  });

  it('tiny MobileNetV2, torchvision flavour (fixture weights; residual and non-residual blocks)', async () => {
    const build = () => new MobileNetV2(gpu, { table: mobileTable, alpha: 0.5, numClasses: 10 });
    const model = build();
    loadTorchStateDict(model, readSafetensors(fixture('mobilenetv2_tiny.safetensors')));
    expect(model.features.children().some((b) => b instanceof Module && (b as { useResidual?: boolean }).useResidual)).toBe(true);
    await roundTrip('mobilenetv2-torchvision', model, build, 32);
    model.release();
  });

  it("tiny MobileNetV2, keras flavour (TF-'same' asymmetric pads, eps 1e-3) at even and odd sizes; a control with torchvision pads must miss", async () => {
    const build = () => new MobileNetV2(gpu, { table: mobileTable, alpha: 0.5, numClasses: 10, flavour: 'keras' });
    const model = build();
    loadTorchStateDict(model, readSafetensors(fixture('mobilenetv2_tiny.safetensors')));
    await roundTrip('mobilenetv2-keras-32', model, build, 32);
    await roundTrip('mobilenetv2-keras-29', model, build, 29);
    // TF 'same' at stride 2 on an even map puts the odd pixel bottom/right: ONNX pads [top, left, bottom, right] = [0, 0, 1, 1].
    const convs = onnx.ModelProto.decode(await encodeOnnx(model, { inputSize: 32 })).graph!.node!.filter((n) => n.opType === 'Conv');
    const pads = (n: onnxProto.onnx.INodeProto) => n.attribute!.find((a) => a.name === 'pads')!.ints!.map(Number);
    expect(pads(convs[0]!)).toEqual([0, 0, 1, 1]);
    // Control: the same weights in the torchvision flavour (symmetric pads, eps 1e-5) give other logits.
    const tv = new MobileNetV2(gpu, { table: mobileTable, alpha: 0.5, numClasses: 10 });
    loadTorchStateDict(tv, readSafetensors(fixture('mobilenetv2_tiny.safetensors')));
    const data = nhwcInput(2, 32, 32, 3);
    const a = await graftForward(model, data, [2, 32, 32, 3]);
    const b = await graftForward(tv, data, [2, 32, 32, 3]);
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeGreaterThan(1e-2);
    tv.release();
    model.release();
  });

  it("tiny VGG: classifier.0's columns are exported in torchvision's NCHW order and the graph flattens NCHW (no Transpose)", async () => {
    const build = () => new VGG(gpu, [4, 'M', 8, 8, 'M'], { numClasses: 5, hidden: 16, poolSize: 2 });
    const model = build();
    await roundTrip('vgg', model, build, 8);
    const ops = onnx.ModelProto.decode(await encodeOnnx(model, { inputSize: 8 })).graph!.node!.map((n) => n.opType);
    expect(ops).not.toContain('Transpose');
    expect(ops.filter((o) => o === 'Gemm')).toHaveLength(3);
    model.release();
  });

  it('VGG without a top (pooling none): output `features`, flattened in NHWC order', async () => {
    const build = () => new VGG(gpu, [4, 'M', 8], { includeTop: false, pooling: 'none' });
    const model = build();
    await roundTrip('vgg-notop', model, build, 6, 'features');
    expect(onnx.ModelProto.decode(await encodeOnnx(model, { inputSize: 6 })).graph!.node!.map((n) => n.opType)).toContain('Transpose');
    model.release();
  });

  it('withHead: MobileNetV2 backbone + dense/dropout head, and ResNet + a 1-logit (sigmoid BCE) head', async () => {
    const mobile = () => withHead(new MobileNetV2(gpu, { table: mobileTable, alpha: 0.5, includeTop: false }), graftHead(gpu, 1280, { hidden: [12], dropout: 0.3, classes: 4 }));
    const m1 = mobile();
    randomizeBatchNorm(m1, 11);
    await roundTrip('withhead-mobilenet', m1, mobile, 32);
    m1.release();
    const binary = () => withHead(new ResNet(gpu, BasicBlock, [1, 1, 1, 1], { widths: [4, 8, 8, 8], includeTop: false }), graftHead(gpu, 8, { hidden: [6], activation: 'relu6', classes: 1 }));
    const m2 = binary();
    randomizeBatchNorm(m2, 13);
    await roundTrip('withhead-binary', m2, binary, 16);
    m2.release();
  });

  it('backbone without a top: output `features`', async () => {
    const build = () => new ResNet(gpu, BasicBlock, [1, 1, 1, 1], { widths: [4, 8, 8, 8], includeTop: false });
    const model = build();
    randomizeBatchNorm(model, 5);
    await roundTrip('resnet-notop', model, build, 16, 'features');
    model.release();
  });

  it('an unsupported module is an error naming its path and class; nothing is written', async () => {
    class Swish extends Module implements Layer {
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    const model = new Sequential(new ReLU(), new Sequential(new ReLU(), new Swish()));
    const path = join(dir, 'unsupported.onnx');
    const before = readdirSync(dir).length;
    await expect(exportOnnx(model, path, { inputSize: 4, inChannels: 3 })).rejects.toThrow(OnnxError);
    await expect(exportOnnx(model, path, { inputSize: 4, inChannels: 3 })).rejects.toThrow(/module '1\.1' \(Swish\) has no ONNX emitter/);
    expect(readdirSync(dir).length).toBe(before);
    expect(() => readOnnx(path)).toThrow(/cannot read/);
  });
});
