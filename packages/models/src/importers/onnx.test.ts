/**
 * ONNX initializers onto graft's ResNet and MobileNetV2. tools/fixtures/onnx_tiny.py exports the tiny
 * torchvision ResNet of resnet_tiny_basic.safetensors and MobileNetV2 of mobilenetv2_tiny.safetensors
 * twice each: TRAINING mode with do_constant_folding=False turned into an inference graph (BN nodes
 * kept, initializers named by state-dict key) and the default eval export (torch 1.13 folds BN into the
 * convs and renames the initializers onnx::Conv_N). Every file must load and reproduce the PyTorch
 * golden logits, and onnxruntime-node running the same file on the same input must agree.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { noGrad, tensor } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { expectClose, testGpu } from '@graft/kernels/testing';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { BatchNorm2d, type Layer } from '@graft/autograd';
import { beforeAll, describe, expect, it } from 'vitest';
import { MobileNetV2, type InvertedResidualRow } from '../mobilenetV2.js';
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
    expect(loadOnnxInitializers(model, fixture('resnet_tiny_basic_nofold.onnx'))).toEqual({ missingKeys: [], unexpectedKeys: [], bnFolded: false, warnings: [] });
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

  it('a graph with only some BN nodes folded is refused, naming the counts', () => {
    const m = readOnnx(fixture('resnet_tiny_basic_nofold.onnx'));
    const renamed: OnnxModel = { ...m, initializers: new Map([...m.initializers].map(([k, v]) => [`x::${k}`, v])) };
    renamed.nodes = m.nodes.map((n) => ({ ...n, inputs: n.inputs.map((i) => (m.initializers.has(i) ? `x::${i}` : i)) }));
    const firstBn = renamed.nodes.findIndex((n) => n.opType === 'BatchNormalization');
    const partial: OnnxModel = { ...renamed, nodes: renamed.nodes.filter((_, i) => i !== firstBn) };
    const model = build();
    expect(() => loadOnnxInitializers(model, partial)).toThrow(/folded into some convolutions but not others \(11 BatchNormalization nodes, the model has 12\)/);
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

interface MobileGolden extends Golden {
  table: InvertedResidualRow[];
  alpha: number;
}
const mobileGolden = JSON.parse(readFileSync(fixture('mobilenetv2_tiny.json'), 'utf8')) as MobileGolden;

function toNchw(data: number[], [n, h, w, c]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n!; b++)
    for (let y = 0; y < h!; y++) for (let x = 0; x < w!; x++) for (let ch = 0; ch < c!; ch++) out[((b * c! + ch) * h! + y) * w! + x] = data[((b * h! + y) * w! + x) * c! + ch]!;
  return out;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));

describe('ONNX fixtures (folded and unfolded) -> graft, against the PyTorch golden and onnxruntime', () => {
  const cases: { file: string; folded: boolean; golden: Golden; build: () => Layer }[] = [
    { file: 'resnet_tiny_basic_nofold.onnx', folded: false, golden, build },
    { file: 'resnet_tiny_basic_fold.onnx', folded: true, golden, build },
    ...[false, true].map((folded) => ({
      file: `mobilenetv2_tiny_${folded ? 'fold' : 'nofold'}.onnx`,
      folded,
      golden: mobileGolden,
      build: () => new MobileNetV2(gpu, { table: mobileGolden.table, alpha: mobileGolden.alpha, numClasses: mobileGolden.numClasses }),
    })),
  ];
  for (const c of cases) {
    it(`${c.file}: loads (${c.folded ? 'BN folded: identity BN + folded bias, with a warning' : 'BN kept'}) and matches the golden and onnxruntime`, async () => {
      const path = fixture(c.file);
      const nodes = readOnnx(path).nodes;
      expect(nodes.some((n) => n.opType === 'BatchNormalization')).toBe(!c.folded);
      const model = c.build();
      const result = loadOnnxInitializers(model, path);
      expect(result.bnFolded).toBe(c.folded);
      if (c.folded) {
        expect(result.warnings).toHaveLength(1);
        expect(result.warnings[0]).toMatch(new RegExp(`${c.file.replace('.', '\\.')}: BatchNorm was folded.*identity BN`));
        const bn = [...model.namedModules()].find(([, m]) => m instanceof BatchNorm2d)![1] as BatchNorm2d;
        expect([...(await bn.weight.read())].every((v) => v === 1)).toBe(true);
        expect([...(await bn.runningMean.read())].every((v) => v === 0)).toBe(true);
      } else expect(result.warnings).toEqual([]);
      model.eval();
      const x = tensor(gpu, Float32Array.from(c.golden.input.data), c.golden.input.shape);
      const y = noGrad(() => model.forward(x));
      const got = await y.read();
      y.release();
      x.release();
      // (a) the PyTorch golden (float64 run of the unfolded weights): f32 rounding, also of the folding, is ~1e-6.
      expectClose(got, c.golden.logits.data, tolerance, `${c.file} vs golden`);
      // (b) onnxruntime on the same file and input: two f32 implementations of one graph.
      const session = await ort.InferenceSession.create(path);
      const [n, h, w, ch] = c.golden.input.shape as [number, number, number, number];
      const out = await session.run({ input: new ort.Tensor('float32', toNchw(c.golden.input.data, c.golden.input.shape), [n, ch, h, w]) });
      await session.release();
      const ortLogits = out['logits']!.data as Float32Array;
      expectClose(got, ortLogits, tolerance, `${c.file} vs onnxruntime`);
      expectClose(ortLogits, c.golden.logits.data, tolerance, `${c.file}: onnxruntime vs golden`);
      if (c.folded) {
        // Control: without the folded bias carried by the BNs the logits must miss.
        const bns = [...model.namedModules()].filter(([, m]) => m instanceof BatchNorm2d).map(([, m]) => m as BatchNorm2d);
        for (const bn of bns) bn.loadStateDict({ bias: { data: new Float32Array(bn.numFeatures), shape: [bn.numFeatures] } }, { strict: false });
        const x2 = tensor(gpu, Float32Array.from(c.golden.input.data), c.golden.input.shape);
        const y2 = noGrad(() => model.forward(x2));
        expect(maxDiff(await y2.read(), c.golden.logits.data)).toBeGreaterThan(1e-3);
        y2.release();
        x2.release();
      }
      console.log(`${c.file}: max |graft - golden| = ${maxDiff(got, c.golden.logits.data).toExponential(2)}, max |graft - ort| = ${maxDiff(got, ortLogits).toExponential(2)}`);
      model.release();
    });
  }
});
