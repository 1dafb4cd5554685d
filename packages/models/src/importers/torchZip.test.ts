/**
 * The weights-only PyTorch zip reader against real torch.save output (tools/fixtures/torch_checkpoints.py,
 * torch 1.13): dtypes, strided views, nested dicts, the tiny ResNet (basic, bottleneck) and MobileNetV2
 * goldens through loadTorchStateDict,
 * and a malicious pickle that must be refused without running.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { noGrad, tensor, type Layer, type Module } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { expectClose, testGpu } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { MobileNetV2, type InvertedResidualRow } from '../mobilenetV2.js';
import { BasicBlock, Bottleneck, ResNet } from '../resnet.js';
import { readSafetensors } from './safetensors.js';
import { loadTorchStateDict } from './torchLayout.js';
import { parseTorchZip, readTorchZip, TorchZipError } from './torchZip.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));

describe('readTorchZip', () => {
  it('reads f32, f16, f64, int64, scalars, strided views and nested dicts exactly', () => {
    const expected = JSON.parse(readFileSync(fixture('tiny_state.json'), 'utf8')) as Record<string, { shape: number[]; data: number[] }>;
    const tensors = readTorchZip(fixture('tiny_state.pth'));
    expect([...tensors.keys()]).toEqual(Object.keys(expected));
    expect(tensors.get('block.num_batches_tracked')).toEqual({ data: Float32Array.from([7]), shape: [] });
    expect(tensors.get('transposed')!.shape).toEqual([5, 3]);
    expect(tensors.get('offset_slice')!.shape).toEqual([2, 3]);
    for (const [name, { shape, data }] of Object.entries(expected)) {
      const got = tensors.get(name)!;
      expect(got.shape, name).toEqual(shape);
      expect([...got.data], name).toEqual([...Float32Array.from(data)]);
    }
  });

  it('refuses a pickle that references os.system, without running it', () => {
    rmSync('/tmp/graft_torchzip_pwned', { force: true });
    expect(() => readTorchZip(fixture('malicious.pth'))).toThrow(
      /malicious\.pth: refused: pickle references posix\.system, which a weights-only reader does not load/,
    );
    expect(existsSync('/tmp/graft_torchzip_pwned')).toBe(false);
  });

  it('names the file and the tensor when a storage is truncated, and rejects non-zip files', () => {
    const bytes = readFileSync(fixture('tiny_state.pth'));
    expect(() => parseTorchZip(bytes.subarray(0, 100), 'cut.pth')).toThrow(TorchZipError);
    expect(() => parseTorchZip(readFileSync(fixture('resnet_tiny_basic.safetensors')), 'x.safetensors')).toThrow(/x\.safetensors: not a zip archive/);
    // Drop storage '0' (the 'f32' tensor) by renaming its entry in both zip headers.
    const text = Buffer.from(bytes).toString('latin1').replaceAll('tiny_state/data/0', 'tiny_state/data/Z');
    expect(() => parseTorchZip(Buffer.from(text, 'latin1'), 'renamed.pth')).toThrow(/renamed\.pth: tensor 'f32': storage '0' is missing/);
  });
});

interface Golden {
  block?: 'BasicBlock' | 'Bottleneck';
  layers?: [number, number, number, number];
  widths?: [number, number, number, number];
  table?: InvertedResidualRow[];
  alpha?: number;
  numClasses: number;
  input: { shape: number[]; data: number[] };
  logits: { data: number[] };
}

const builders: Record<string, (gpu: Gpu, g: Golden) => Module & Layer> = {
  resnet_tiny_basic: (gpu, g) => new ResNet(gpu, BasicBlock, g.layers!, { widths: g.widths!, numClasses: g.numClasses }),
  resnet_tiny_bottleneck: (gpu, g) => new ResNet(gpu, Bottleneck, g.layers!, { widths: g.widths!, numClasses: g.numClasses }),
  mobilenetv2_tiny: (gpu, g) => new MobileNetV2(gpu, { table: g.table!, alpha: g.alpha!, numClasses: g.numClasses }),
};

describe.each(Object.keys(builders))('%s.pth (torch.save of the golden weights)', (name) => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });

  it('matches the safetensors copy and reproduces the golden logits through loadTorchStateDict', async () => {
    const g = JSON.parse(readFileSync(fixture(`${name}.json`), 'utf8')) as Golden;
    const tensors = readTorchZip(fixture(`${name}.pth`));
    const reference = readSafetensors(fixture(`${name}.safetensors`));
    expect([...tensors.keys()]).toEqual([...reference.keys()]);
    for (const [k, v] of reference) expect(tensors.get(k), k).toEqual({ data: v.data, shape: v.shape });
    const model = builders[name]!(gpu, g);
    expect(loadTorchStateDict(model, tensors)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    model.eval();
    const x = tensor(gpu, Float32Array.from(g.input.data), g.input.shape);
    const y = noGrad(() => model.forward(x));
    const logits = await y.read();
    // Same f32 weights and forward as the safetensors golden tests: see their 1e-4 tolerance.
    expectClose(logits, g.logits.data, { rtol: 1e-4, atol: 1e-4 }, `${name}.pth logits`);
    console.log(`${name}.pth: max |graft - torch| logits ${Math.max(...Array.from(logits, (v, i) => Math.abs(v - g.logits.data[i]!))).toExponential(2)}`);
    y.release();
    x.release();
    model.release();
  });
});
