/**
 * timm MobileNetV2 and Hugging Face ResNet names -> torchvision's. The goldens' torchvision state
 * dicts are renamed into the other convention by the hand-written tables below (written from those
 * libraries' module attributes, independently of the code under test), renamed back by
 * toTorchvisionNames, and must reproduce the golden logits through the strict loader.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noGrad, tensor, type HostEntry } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { expectClose, testGpu } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { mobilenetV2, type InvertedResidualRow } from '../mobilenetV2.js';
import { Bottleneck, ResNet } from '../resnet.js';
import { loadPretrained } from '../pretrained.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { stateDictConvention, toTorchvisionNames } from './stateDictNames.js';
import { loadTorchStateDict } from './torchLayout.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));
// f32 forward vs PyTorch's float64 golden (see resnet.test.ts).
const tolerance = { rtol: 1e-4, atol: 1e-4 };

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

function renameKeys(tensors: Map<string, HostEntry>, rename: (key: string) => string): Map<string, HostEntry> {
  return new Map([...tensors].map(([k, v]) => [rename(k), v]));
}

/** torchvision ResNet key -> transformers' ResNetModel key (ResNetEmbeddings, ResNetStage, ResNetBottleNeckLayer). */
function toHfResNet(key: string): string {
  const fields = (m: string) => m;
  let match = /^(conv1|bn1)\.(.+)$/.exec(key);
  if (match) return `resnet.embedder.embedder.${match[1] === 'conv1' ? 'convolution' : 'normalization'}.${fields(match[2]!)}`;
  match = /^layer(\d)\.(\d+)\.downsample\.(0|1)\.(.+)$/.exec(key);
  if (match) return `resnet.encoder.stages.${Number(match[1]) - 1}.layers.${match[2]}.shortcut.${match[3] === '0' ? 'convolution' : 'normalization'}.${match[4]}`;
  match = /^layer(\d)\.(\d+)\.(conv|bn)(\d)\.(.+)$/.exec(key);
  if (match) return `resnet.encoder.stages.${Number(match[1]) - 1}.layers.${match[2]}.layer.${Number(match[4]) - 1}.${match[3] === 'conv' ? 'convolution' : 'normalization'}.${match[5]}`;
  match = /^fc\.(.+)$/.exec(key);
  if (match) return `classifier.1.${match[1]}`;
  throw new Error(`no HF name for ${key}`);
}

describe('Hugging Face transformers ResNet names', () => {
  it('maps the embedder, stages, shortcut and classifier', () => {
    const e: HostEntry = { data: new Float32Array(1), shape: [1] };
    const names = [
      'resnet.embedder.embedder.convolution.weight',
      'resnet.embedder.embedder.normalization.running_var',
      'resnet.encoder.stages.0.layers.0.shortcut.convolution.weight',
      'resnet.encoder.stages.0.layers.0.shortcut.normalization.bias',
      'resnet.encoder.stages.3.layers.2.layer.2.convolution.weight',
      'resnet.encoder.stages.1.layers.0.layer.0.normalization.num_batches_tracked',
      'classifier.1.weight',
      'pooler.something',
    ];
    const { tensors, convention } = toTorchvisionNames(new Map(names.map((n) => [n, e])));
    expect(convention).toBe('hf-resnet');
    expect([...tensors.keys()]).toEqual([
      'conv1.weight',
      'bn1.running_var',
      'layer1.0.downsample.0.weight',
      'layer1.0.downsample.1.bias',
      'layer4.2.conv3.weight',
      'layer2.0.bn1.num_batches_tracked',
      'fc.weight',
      'pooler.something', // unknown: kept, so a strict load names it
    ]);
  });

  it('a renamed bottleneck golden loads strictly and matches the logits', async () => {
    const g = JSON.parse(readFileSync(fixture('resnet_tiny_bottleneck.json'), 'utf8')) as {
      layers: [number, number, number, number];
      widths: [number, number, number, number];
      numClasses: number;
      input: { shape: number[]; data: number[] };
      logits: { data: number[] };
    };
    const hf = renameKeys(readSafetensors(fixture('resnet_tiny_bottleneck.safetensors')), toHfResNet);
    expect(stateDictConvention([...hf.keys()])).toBe('hf-resnet');
    const model = new ResNet(gpu, Bottleneck, g.layers, { widths: g.widths, numClasses: g.numClasses }).eval();
    expect(loadTorchStateDict(model, toTorchvisionNames(hf).tensors)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    const x = tensor(gpu, Float32Array.from(g.input.data), g.input.shape);
    const y = noGrad(() => model.forward(x));
    expectClose(await y.read(), g.logits.data, tolerance, 'HF-named bottleneck logits');
    y.release();
    x.release();

    // Through loadPretrained, from a hub-style folder: the processor config beside the weights is read.
    const dir = mkdtempSync(join(tmpdir(), 'graft-hf-'));
    try {
      writeSafetensors(join(dir, 'model.safetensors'), hf);
      writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify({ crop_pct: 0.875, image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225], resample: 3, size: 224 }));
      const loaded = await loadPretrained(model, join(dir, 'model.safetensors'));
      expect(loaded.origin).toBe('huggingface');
      expect(loaded.preprocessing).toMatchObject({ name: 'huggingface', resize: 256, crop: 224, interpolation: 'bicubic' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    model.release();
  });
});

describe('timm MobileNetV2 names', () => {
  // mobilenetv2_tiny's table: [[1, 8, 1, 1], [6, 16, 2, 2], [6, 24, 1, 2]] -> timm stages 0 (separable), 1 (two blocks), 2.
  const timmOf: Record<string, string> = {
    'features.0.0': 'conv_stem',
    'features.0.1': 'bn1',
    'features.1.conv.0.0': 'blocks.0.0.conv_dw',
    'features.1.conv.0.1': 'blocks.0.0.bn1',
    'features.1.conv.1': 'blocks.0.0.conv_pw',
    'features.1.conv.2': 'blocks.0.0.bn2',
    'features.5.0': 'conv_head',
    'features.5.1': 'bn2',
    'classifier.1': 'classifier',
  };
  const blocks: Record<number, string> = { 2: 'blocks.1.0', 3: 'blocks.1.1', 4: 'blocks.2.0' };
  const inverted: Record<string, string> = { 'conv.0.0': 'conv_pw', 'conv.0.1': 'bn1', 'conv.1.0': 'conv_dw', 'conv.1.1': 'bn2', 'conv.2': 'conv_pwl', 'conv.3': 'bn3' };
  function toTimm(key: string): string {
    const dot = key.lastIndexOf('.');
    const [module, field] = [key.slice(0, dot), key.slice(dot + 1)];
    if (timmOf[module]) return `${timmOf[module]}.${field}`;
    const m = /^features\.(\d+)\.(conv\..+)$/.exec(module)!;
    return `${blocks[Number(m[1])]}.${inverted[m[2]!]}.${field}`;
  }

  it('a renamed mobilenetv2_tiny golden loads strictly and matches the logits', async () => {
    const g = JSON.parse(readFileSync(fixture('mobilenetv2_tiny.json'), 'utf8')) as {
      table: InvertedResidualRow[];
      alpha: number;
      numClasses: number;
      input: { shape: number[]; data: number[] };
      logits: { data: number[] };
    };
    const timm = renameKeys(readSafetensors(fixture('mobilenetv2_tiny.safetensors')), toTimm);
    expect([...timm.keys()]).toContain('blocks.1.1.conv_pwl.weight');
    const { tensors, convention } = toTorchvisionNames(timm);
    expect(convention).toBe('timm-mobilenetv2');
    const model = mobilenetV2(gpu, { table: g.table, alpha: g.alpha, numClasses: g.numClasses }).eval();
    expect(loadTorchStateDict(model, tensors)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    const x = tensor(gpu, Float32Array.from(g.input.data), g.input.shape);
    const y = noGrad(() => model.forward(x));
    expectClose(await y.read(), g.logits.data, tolerance, 'timm-named MobileNetV2 logits');
    y.release();
    x.release();
    model.release();
  });

  it('leaves torchvision names alone', () => {
    const e: HostEntry = { data: new Float32Array(1), shape: [1] };
    const input = new Map([['features.0.0.weight', e], ['classifier.1.bias', e]]);
    expect(toTorchvisionNames(input)).toEqual({ tensors: input, convention: 'torchvision' });
  });
});
