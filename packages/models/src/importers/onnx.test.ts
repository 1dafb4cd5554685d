/**
 * ONNX initializers onto graft's ResNet. tools/fixtures/onnx_tiny.py exports the tiny torchvision
 * ResNet of resnet_tiny_basic.safetensors twice: TRAINING mode with do_constant_folding=False (BN
 * nodes kept, initializers named by state-dict key) and the default eval export (torch 1.13 folds BN
 * into the convs and renames the initializers onnx::Conv_N). The first must reproduce
 * resnet_tiny_basic.json's logits by name and, with its initializers renamed, by graph order; the
 * second must fail saying BN was folded.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { noGrad, tensor } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { expectClose, testGpu } from '@graft/kernels/testing';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { BasicBlock, ResNet } from '../resnet.js';
import { loadOnnxInitializers, OnnxError, parseOnnx, readOnnx, type OnnxModel } from './onnx.js';

const { onnx } = onnxProto;
const tolerance = { rtol: 1e-4, atol: 1e-4 };
const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));
interface Golden {
  layers: [number, number, number, number];
  widths: [number, number, number, number];
  numClasses: number;
  input: { shape: number[]; data: number[] };
  logits: { shape: number[]; data: number[] };
}
const golden = JSON.parse(readFileSync(fixture('resnet_tiny_basic.json'), 'utf8')) as Golden;

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

const build = () => new ResNet(gpu, BasicBlock, golden.layers, { widths: golden.widths, numClasses: golden.numClasses });

async function logits(model: ResNet): Promise<Float32Array> {
  model.eval();
  const x = tensor(gpu, Float32Array.from(golden.input.data), golden.input.shape);
  const y = noGrad(() => model.forward(x));
  const values = await y.read();
  y.release();
  x.release();
  return values;
}

describe('ONNX initializers -> graft ResNet', () => {
  it('names preserved (do_constant_folding=False, training export): loads by key and matches the logits', async () => {
    const m = readOnnx(fixture('resnet_tiny_basic_nofold.onnx'));
    expect(m.initializers.has('layer2.0.downsample.1.running_var')).toBe(true);
    const model = build();
    expect(loadOnnxInitializers(model, fixture('resnet_tiny_basic_nofold.onnx'))).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expectClose(await logits(model), golden.logits.data, tolerance, 'onnx nofold logits');
    model.release();
  });

  it('renamed initializers: assigned by graph order (Conv / BatchNormalization / Gemm) and match the logits', async () => {
    const m = readOnnx(fixture('resnet_tiny_basic_nofold.onnx'));
    const rename = new Map([...m.initializers.keys()].map((k, i) => [k, `onnx::W_${i}`]));
    const renamed: OnnxModel = {
      file: m.file,
      initializers: new Map([...m.initializers].map(([k, v]) => [rename.get(k)!, v])),
      nodes: m.nodes.map((n) => ({ ...n, inputs: n.inputs.map((i) => rename.get(i) ?? i) })),
    };
    const model = build();
    loadOnnxInitializers(model, renamed);
    expectClose(await logits(model), golden.logits.data, tolerance, 'onnx renamed logits');
    // A shape disagreement names the initializer and the graft key.
    const bad: OnnxModel = { ...renamed, initializers: new Map(renamed.initializers) };
    const conv1 = renamed.nodes.find((n) => n.opType === 'Conv')!.inputs[1]!;
    bad.initializers.set(conv1, { data: new Float32Array(4), shape: [4], dtype: 'FLOAT' });
    expect(() => loadOnnxInitializers(model, bad)).toThrow(/initializer 'onnx::W_\d+'.*conv1\.weight/);
    // A count disagreement is explained.
    const fewer: OnnxModel = { ...renamed, nodes: renamed.nodes.filter((n) => n.opType !== 'Gemm') };
    expect(() => loadOnnxInitializers(model, fewer)).toThrow(/0 Gemm nodes, the model has 1/);
    model.release();
  });

  it('default (folding, eval) export: BN folded into the convs is reported clearly', () => {
    const file = fixture('resnet_tiny_basic_fold.onnx');
    const m = readOnnx(file);
    expect([...m.initializers.keys()].some((k) => k.startsWith('onnx::Conv_'))).toBe(true);
    const model = build();
    expect(() => loadOnnxInitializers(model, file)).toThrow(OnnxError);
    expect(() => loadOnnxInitializers(model, file)).toThrow(/resnet_tiny_basic_fold\.onnx: BatchNorm was folded.*0 BatchNormalization nodes, the model has 12/);
    model.release();
  });

  it('truncated and garbage files: an error naming the file', () => {
    const bytes = readFileSync(fixture('resnet_tiny_basic_nofold.onnx'));
    expect(() => parseOnnx(bytes.subarray(0, bytes.length - 1000), 'cut.onnx')).toThrow(/^cut\.onnx: /);
    expect(() => parseOnnx(Uint8Array.from({ length: 256 }, (_, i) => (i * 97 + 13) & 0xff), 'junk.onnx')).toThrow(/junk\.onnx: /);
    expect(() => readOnnx('/nonexistent/x.onnx')).toThrow(/\/nonexistent\/x\.onnx: cannot read/);
  });

  it('reads float_data, FLOAT16/DOUBLE/INT64 raw_data; a byte-count mismatch names the initializer', () => {
    const raw = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const encode = (initializer: onnxProto.onnx.ITensorProto[]) => onnx.ModelProto.encode({ graph: { initializer } }).finish();
    const m = parseOnnx(
      encode([
        { name: 'f', dataType: 1, dims: [3], floatData: [1.5, -2, 0.25] },
        { name: 'h', dataType: 10, dims: [2], rawData: raw(Uint16Array.from([0x3c00, 0xc000])) },
        { name: 'd', dataType: 11, dims: [2], rawData: raw(Float64Array.from([0.5, -3])) },
        { name: 'i', dataType: 7, dims: [], rawData: raw(BigInt64Array.from([7n])) },
      ]),
      'mem.onnx',
    );
    expect([...m.initializers.get('f')!.data]).toEqual([1.5, -2, 0.25]);
    expect([...m.initializers.get('h')!.data]).toEqual([1, -2]);
    expect([...m.initializers.get('d')!.data]).toEqual([0.5, -3]);
    expect(m.initializers.get('i')).toMatchObject({ shape: [], dtype: 'INT64' });
    expect([...m.initializers.get('i')!.data]).toEqual([7]);
    expect(() => parseOnnx(encode([{ name: 'w', dataType: 1, dims: [4], rawData: new Uint8Array(12) }]), 'mem.onnx')).toThrow(
      /mem\.onnx: initializer 'w': raw_data has 12 bytes/,
    );
    expect(() => parseOnnx(encode([{ name: 'u8', dataType: 2, dims: [1], rawData: new Uint8Array(1) }]), 'mem.onnx')).toThrow(
      /mem\.onnx: initializer 'u8': unsupported data type 2/,
    );
  });
});
