/**
 * loadPretrained: the format comes from the bytes (every fixture is also copied under a misleading
 * name), the flavour check refuses Keras weights in a PyTorch-convention model and vice versa, and
 * the weights' preprocessing comes back with them (timm's from a config.json beside the file).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noGrad, tensor, type HostEntry, type Module } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { expectClose, testGpu } from '@graft/kernels/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSafetensors } from './export.js';
import { graftHead, withHead } from './head.js';
import { mobilenetV2 } from './mobilenetV2.js';
import { kerasMobileNet, torchvision, torchvisionV2 } from './preprocessing.js';
import { detectWeightsFormat, loadPretrained, PretrainedError, unwrapStateDict } from './pretrained.js';
import { BasicBlock, ResNet } from './resnet.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'graft-pretrained-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Golden {
  layers: [number, number, number, number];
  widths: [number, number, number, number];
  numClasses: number;
  input: { shape: number[]; data: number[] };
  logits: { shape: number[]; data: number[] };
  pooled: { shape: number[]; data: number[] };
}
const resnetGolden = JSON.parse(readFileSync(fixture('resnet_tiny_basic.json'), 'utf8')) as Golden;
// f32 forward vs PyTorch's float64 golden (see resnet.test.ts for the reasoning).
const tolerance = { rtol: 1e-4, atol: 1e-4 };

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

const tinyResNet = (includeTop = true) =>
  new ResNet(gpu, BasicBlock, resnetGolden.layers, { widths: resnetGolden.widths, numClasses: resnetGolden.numClasses, includeTop });

async function forward(model: Module & { forward(x: ReturnType<typeof tensor>): ReturnType<typeof tensor> }): Promise<Float32Array> {
  const x = tensor(gpu, Float32Array.from(resnetGolden.input.data), resnetGolden.input.shape);
  const y = noGrad(() => model.forward(x));
  const out = await y.read();
  y.release();
  x.release();
  return out;
}

/** A copy of a fixture under a name that says nothing about its format. */
function disguised(name: string, as: string): string {
  const path = join(dir, as);
  copyFileSync(fixture(name), path);
  return path;
}

describe('detectWeightsFormat', () => {
  it('reads the format from the content, whatever the file is called', () => {
    expect(detectWeightsFormat(disguised('resnet_tiny_basic.safetensors', 'a.bin'))).toBe('safetensors');
    expect(detectWeightsFormat(disguised('resnet_tiny_basic.pth', 'b.safetensors'))).toBe('pytorch-zip');
    expect(detectWeightsFormat(disguised('mobilenetv2_tiny_keras.h5', 'c.pth'))).toBe('keras-h5');
    expect(detectWeightsFormat(disguised('resnet_tiny_basic_nofold.onnx', 'd.h5'))).toBe('onnx');
    const tfjs = join(dir, 'tfjs');
    mkdirSync(tfjs);
    writeFileSync(join(tfjs, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [] }));
    expect(detectWeightsFormat(tfjs)).toBe('tfjs-layers');
    expect(detectWeightsFormat(join(tfjs, 'model.json'))).toBe('tfjs-layers');
  });

  it('names the file and what was checked when nothing fits', () => {
    const garbage = join(dir, 'garbage.pth');
    writeFileSync(garbage, Buffer.from('this is not a weights file at all'));
    expect(() => detectWeightsFormat(garbage)).toThrow(PretrainedError);
    expect(() => detectWeightsFormat(garbage)).toThrow(/garbage\.pth: unrecognised weights format .*safetensors.*first bytes 74 68 69 73/);
    const legacy = join(dir, 'legacy.pth');
    writeFileSync(legacy, Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20]));
    expect(() => detectWeightsFormat(legacy)).toThrow(/legacy.pth: a legacy \(pre-1.6\) PyTorch pickle file.*torch\.save/);
    const json = join(dir, 'other.json');
    writeFileSync(json, '{"hello": 1}');
    expect(() => detectWeightsFormat(json)).toThrow(/other\.json: a JSON file, but not a TF\.js layers model\.json/);
    const tiny = join(dir, 'tiny');
    writeFileSync(tiny, Uint8Array.from([1, 2, 3]));
    expect(() => detectWeightsFormat(tiny)).toThrow(/tiny: 3 bytes is too short/);
    expect(() => detectWeightsFormat(join(dir, 'missing.safetensors'))).toThrow(/missing\.safetensors: cannot read/);
    expect(() => detectWeightsFormat(dir)).toThrow(/a directory, but neither a graft export/);
  });
});

describe('loadPretrained', () => {
  it.each([
    ['resnet_tiny_basic.safetensors', 'safetensors'],
    ['resnet_tiny_basic.pth', 'pytorch-zip'],
    ['resnet_tiny_basic_nofold.onnx', 'onnx'],
    ['resnet_tiny_basic_fold.onnx', 'onnx'],
  ] as const)('%s: the same logits through any format, with torchvision preprocessing', async (name, format) => {
    const model = tinyResNet().eval();
    const warnings: string[] = [];
    const loaded = await loadPretrained(model, disguised(name, `weights-${name}`), { warn: (m) => warnings.push(m) });
    expect(loaded.warnings).toEqual(warnings);
    expect(warnings.length).toBe(name.includes('_fold') ? 1 : 0); // BN folded at export: said so
    expect(loaded.format).toBe(format);
    expect(loaded.origin).toBe('torchvision');
    expect(loaded.preprocessing).toEqual(torchvision);
    expect(loaded.result.missingKeys).toEqual([]);
    expectClose(await forward(model), resnetGolden.logits.data, tolerance, `${name} logits`);
    model.release();
  });

  it("torchvision's V2 checkpoints (known file hashes) get resize 232, V1 256", async () => {
    const model = tinyResNet();
    const v2 = await loadPretrained(model, disguised('resnet_tiny_basic.pth', 'resnet50-11ad3fa6.pth'), { strict: true });
    expect(v2.preprocessing).toEqual(torchvisionV2);
    const v1 = await loadPretrained(model, disguised('resnet_tiny_basic.pth', 'resnet50-0676ba61.pth'));
    expect(v1.preprocessing).toEqual(torchvision);
    model.release();
  });

  it('refuses Keras weights in a torchvision-flavour model and PyTorch weights in a Keras-flavour one', async () => {
    const torchFlavour = mobilenetV2(gpu, { table: [[1, 8, 1, 1]], alpha: 0.5, numClasses: 3 });
    await expect(loadPretrained(torchFlavour, fixture('mobilenetv2_tiny_keras.h5'))).rejects.toThrow(/mobilenetv2_tiny_keras\.h5: Keras weights \(keras-h5\) cannot load into this MobileNetV2.*flavour: 'keras'/);
    const kerasFlavour = mobilenetV2(gpu, { table: [[1, 8, 1, 1]], alpha: 0.5, numClasses: 3, flavour: 'keras' });
    await expect(loadPretrained(kerasFlavour, fixture('resnet_tiny_basic.safetensors'))).rejects.toThrow(/resnet_tiny_basic\.safetensors: PyTorch-convention weights \(safetensors\) cannot load into a Keras-flavour MobileNetV2/);
    torchFlavour.release();
    kerasFlavour.release();
  });

  it('a strict load of the wrong architecture names the file and the tensors', async () => {
    const wrong = new ResNet(gpu, BasicBlock, [1, 1, 1, 1], { widths: [4, 8, 16, 16], numClasses: 10 });
    await expect(loadPretrained(wrong, fixture('resnet_tiny_basic.safetensors'))).rejects.toThrow(/resnet_tiny_basic\.safetensors: [\s\S]*layer4\.0\.conv2\.weight: expected \[16, 16, 3, 3\], found \[32, 32, 3, 3\] \(PyTorch layout\)/);
    wrong.release();
  });

  it('loads the backbone of a WithHead model; the head keeps its own weights', async () => {
    const backbone = tinyResNet(false);
    const model = withHead(backbone, graftHead(gpu, backbone.numFeatures, { classes: 2 })).eval();
    const loaded = await loadPretrained(model, fixture('resnet_tiny_basic.safetensors'), { strict: false });
    expect(loaded.result.unexpectedKeys.sort()).toEqual(['fc.bias', 'fc.weight']);
    expectClose(await forward(backbone), resnetGolden.pooled.data, tolerance, 'pooled features');
    model.release();
  });

  it("timm: a config.json with pretrained_cfg beside the weights sets the origin and preprocessing", async () => {
    const hub = join(dir, 'hub');
    mkdirSync(hub);
    copyFileSync(fixture('resnet_tiny_basic.safetensors'), join(hub, 'model.safetensors'));
    const cfg = { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], input_size: [3, 160, 160], crop_pct: 0.95, interpolation: 'bicubic' };
    writeFileSync(join(hub, 'config.json'), JSON.stringify({ architecture: 'resnet18', num_classes: 10, pretrained_cfg: cfg }));
    const model = tinyResNet();
    const loaded = await loadPretrained(model, join(hub, 'model.safetensors'));
    expect(loaded.origin).toBe('timm');
    expect(loaded.preprocessing).toMatchObject({ name: 'timm', mean: [0.5, 0.5, 0.5], crop: 160, resize: 168, interpolation: 'bicubic' });
    writeFileSync(join(hub, 'config.json'), JSON.stringify({ pretrained_cfg: { mean: 'x' } }));
    await expect(loadPretrained(model, join(hub, 'model.safetensors'))).rejects.toThrow(/hub\/config\.json: pretrained_cfg needs mean, std and input_size/);
    model.release();
  });

  it('an override different from the weights’ own preprocessing is used and warned about', async () => {
    const model = tinyResNet();
    const warnings: string[] = [];
    const loaded = await loadPretrained(model, fixture('resnet_tiny_basic.safetensors'), { preprocessing: kerasMobileNet, warn: (m) => warnings.push(m) });
    expect(loaded.preprocessing).toBe(kerasMobileNet);
    expect(warnings).toEqual([expect.stringMatching(/'keras-mobilenet' overrides 'torchvision'/)]);
    model.release();
  });

  it('a graft export directory brings back its own preprocessing', async () => {
    const model = tinyResNet();
    await loadPretrained(model, fixture('resnet_tiny_basic.safetensors'));
    const out = join(dir, 'export');
    await exportSafetensors(model, out, { architecture: 'resnet_tiny', flavour: 'torchvision', classNames: ['a'], preprocessing: kerasMobileNet });
    const again = tinyResNet().eval();
    const loaded = await loadPretrained(again, out);
    expect(loaded.format).toBe('graft-export');
    expect(loaded.preprocessing).toEqual(kerasMobileNet);
    expectClose(await forward(again), resnetGolden.logits.data, tolerance, 'exported logits');
    model.release();
    again.release();
  });
});

describe('unwrapStateDict', () => {
  const e = (): HostEntry => ({ data: new Float32Array(1), shape: [1] });
  it("strips state_dict., model. and DataParallel's module. only when every key has them", () => {
    expect([...unwrapStateDict(new Map([['state_dict.module.fc.weight', e()], ['state_dict.module.fc.bias', e()]])).keys()]).toEqual(['fc.weight', 'fc.bias']);
    expect([...unwrapStateDict(new Map([['model.fc.weight', e()], ['fc.bias', e()]])).keys()]).toEqual(['model.fc.weight', 'fc.bias']);
  });
});
