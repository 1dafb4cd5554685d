/**
 * ResNet against torchvision: tools/fixtures/resnet_tiny.py builds torchvision's BasicBlock and
 * Bottleneck into torchvision's ResNet structure at tiny widths, writes its state dict as
 * safetensors and its eval-mode logits and pooled features (computed in float64) as JSON. Here the
 * file goes through the strict key loop into graft's ResNet and the f32 forward must match.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BatchNorm2d, Conv2d, noGrad, Sequential, tensor, type Layer, type Module, type Tensor } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { expectClose, testGpu } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { depthwiseToHwc, loadTorchStateDict } from './importers/torchLayout.js';
import { parseSafetensors, readSafetensors } from './importers/safetensors.js';
import { BasicBlock, Bottleneck, ResNet, resnet, type BlockClass } from './resnet.js';

// Logits are sums of ~300-1200 f32 products per conv output through ~10 layers, compared with a
// float64 run of the same f32 weights: rounding grows to ~1e-5 relative; 1e-4 leaves headroom while
// any layout or BN mistake moves the logits by O(0.1).
const tolerance = { rtol: 1e-4, atol: 1e-4 };

interface Golden {
  block: 'BasicBlock' | 'Bottleneck';
  layers: [number, number, number, number];
  widths: [number, number, number, number];
  numClasses: number;
  keys: string[];
  input: { shape: number[]; data: number[] };
  logits: { shape: number[]; data: number[] };
  pooled: { shape: number[]; data: number[] };
  train: TrainGolden;
}

/** One train-mode forward (see resnet_tiny.train_golden): input as integers k, x = k / 64 - 1. */
interface TrainGolden {
  input: { shape: number[]; k: number[] };
  logits: { shape: number[]; data: number[] };
  runningMean: Record<string, number[]>;
  runningVar: Record<string, number[]>;
  numBatchesTracked: number;
}

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const golden = (name: string): Golden => JSON.parse(readFileSync(fixture(`${name}.json`), 'utf8')) as Golden;
const blocks: Record<Golden['block'], BlockClass> = { BasicBlock, Bottleneck };

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

async function run(model: ResNet, g: Golden, f: (x: Tensor) => Tensor = (x) => model.forward(x)): Promise<Float32Array> {
  const x = tensor(gpu, Float32Array.from(g.input.data), g.input.shape);
  const y = noGrad(() => f(x));
  const values = await y.read();
  y.release();
  x.release();
  return values;
}

describe.each(['resnet_tiny_basic', 'resnet_tiny_bottleneck'])('%s golden (torchvision blocks)', (name) => {
  const build = (g: Golden, includeTop = true) => new ResNet(gpu, blocks[g.block], g.layers, { widths: g.widths, numClasses: g.numClasses, includeTop });

  it('has exactly torchvision state-dict keys, in order', () => {
    const g = golden(name);
    const model = build(g);
    expect(Object.keys(model.stateDict())).toEqual(g.keys);
    const buffers = /\.(running_mean|running_var|num_batches_tracked)$/;
    expect([...model.namedParameters()].map(([k]) => k)).toEqual(g.keys.filter((k) => !buffers.test(k)));
    model.release();
  });

  it('loads strictly and matches the eval-mode logits and pooled features', async () => {
    const g = golden(name);
    const tensors = readSafetensors(fixture(`${name}.safetensors`));
    expect(tensors.get('bn1.num_batches_tracked')?.dtype).toBe('I64');
    const model = build(g);
    expect(loadTorchStateDict(model, tensors)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    model.eval();
    expectClose(await run(model, g), g.logits.data, tolerance, `${name} logits`);
    expectClose(await run(model, g, (x) => model.features(x)), g.pooled.data, tolerance, `${name} pooled`);
    expect(await model.bn1.numBatchesTracked!.read()).toEqual(Float32Array.from([7]));
    model.release();
  });

  it('without a top returns the pooled features; a non-strict load reports fc as unexpected', async () => {
    const g = golden(name);
    const model = build(g, false);
    expect(model.fc).toBeNull();
    const result = loadTorchStateDict(model, readSafetensors(fixture(`${name}.safetensors`)), { strict: false });
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: ['fc.weight', 'fc.bias'] });
    model.eval();
    const y = await run(model, g);
    expect(y.length).toBe(g.pooled.data.length);
    expectClose(y, g.pooled.data, tolerance, `${name} headless`);
    model.release();
  });
});

describe.each(['resnet_tiny_basic', 'resnet_tiny_bottleneck'])('%s train-mode golden (batch statistics)', (name) => {
  // Train-mode BN divides by a batch std over as few as 4 values (layer4 is 1x1 at batch 4), which
  // amplifies f32 rounding a little over eval mode; measured well under 1e-4. The running statistics
  // are one momentum-0.1 step from the loaded ones: a biased-variance or momentum mistake moves them
  // by O(1e-2), a missed update by O(0.1).
  it('matches PyTorch logits and the running_mean / running_var one forward leaves behind', async () => {
    const g = golden(name);
    const model = new ResNet(gpu, blocks[g.block], g.layers, { widths: g.widths, numClasses: g.numClasses });
    loadTorchStateDict(model, readSafetensors(fixture(`${name}.safetensors`)));
    await expectTrainGolden(gpu, model, g.train, name);
    model.release();
  });
});

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

/** Runs one train-mode forward of `model` on the golden's input and checks logits and every BN's buffers. */
async function expectTrainGolden(gpu: Gpu, model: Module & Layer, t: TrainGolden, label: string): Promise<void> {
  model.train();
  const bns = [...model.namedModules()].filter((e): e is [string, BatchNorm2d] => e[1] instanceof BatchNorm2d);
  expect(bns.map(([n]) => n)).toEqual(Object.keys(t.runningMean));
  const before = await bns[0]![1].runningMean.read();
  const x = tensor(gpu, Float32Array.from(t.input.k, (k) => k / 64 - 1), t.input.shape);
  const y = noGrad(() => model.forward(x));
  const logits = await y.read();
  y.release();
  x.release();
  expectClose(logits, t.logits.data, tolerance, `${label} train-mode logits`);
  let stats = 0;
  for (const [n, bn] of bns) {
    const mean = await bn.runningMean.read();
    const variance = await bn.runningVar.read();
    expectClose(mean, t.runningMean[n]!, tolerance, `${label} ${n}.running_mean`);
    expectClose(variance, t.runningVar[n]!, tolerance, `${label} ${n}.running_var`);
    stats = Math.max(stats, maxDiff(mean, t.runningMean[n]!), maxDiff(variance, t.runningVar[n]!));
    expect(await bn.numBatchesTracked!.read(), `${n}.num_batches_tracked`).toEqual(Float32Array.of(t.numBatchesTracked));
  }
  console.log(`${label} train mode: max |graft - torch| logits ${maxDiff(logits, t.logits.data).toExponential(2)}, running stats ${stats.toExponential(2)}`);
  // Control: the stored statistics moved, so matching them is evidence of the update.
  const moved = Math.max(...t.runningMean[bns[0]![0]]!.map((v, i) => Math.abs(v - before[i]!)));
  expect(moved).toBeGreaterThan(1e-3);
}

describe('strict loading of a doctored checkpoint', () => {
  it('lists missing, unexpected and mis-shaped keys by name and writes nothing', async () => {
    const g = golden('resnet_tiny_basic');
    const tensors = readSafetensors(fixture('resnet_tiny_basic.safetensors'));
    tensors.delete('layer3.0.bn2.running_var');
    tensors.set('layer3.0.bn2.running_varr', { data: new Float32Array(16), shape: [16], dtype: 'F32' });
    const conv = tensors.get('layer4.0.conv1.weight')!;
    tensors.set('layer4.0.conv1.weight', { ...conv, shape: [32, 16, 1, 9] }); // same size, wrong shape
    const model = new ResNet(gpu, BasicBlock, g.layers, { widths: g.widths, numClasses: 10 });
    const before = await model.conv1.weight.read();
    let message = '';
    try {
      loadTorchStateDict(model, tensors);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/missing keys \(1\): layer3\.0\.bn2\.running_var/);
    expect(message).toMatch(/unexpected keys \(1\): layer3\.0\.bn2\.running_varr/);
    expect(message).toMatch(/layer4\.0\.conv1\.weight: expected \[32, 16, 3, 3\], found \[32, 16, 1, 9\] \(PyTorch layout\)/);
    expect(await model.conv1.weight.read()).toEqual(before); // checked before anything is written
    model.release();
  });

  it('rejects a conv weight that is not 4-d, naming it; non-strict skips and reports it', () => {
    const tensors = readSafetensors(fixture('resnet_tiny_basic.safetensors'));
    const conv = tensors.get('conv1.weight')!;
    tensors.set('conv1.weight', { ...conv, shape: [4, 147] });
    const model = new ResNet(gpu, BasicBlock, [1, 1, 1, 1], { widths: [4, 8, 16, 32], numClasses: 10 });
    expect(() => loadTorchStateDict(model, tensors)).toThrow(/conv1\.weight: expected \[4, 3, 7, 7\], found \[4, 147\] \(PyTorch layout\)/);
    // Non-strict: the mis-shaped tensor is skipped and reported, the rest loads.
    const result = loadTorchStateDict(model, tensors, { strict: false });
    expect(result.misShapedKeys).toEqual(['conv1.weight: expected [4, 3, 7, 7], found [4, 147] (PyTorch layout)']);
    expect(result.missingKeys).toEqual([]);
    model.release();
  });

  it('converts a depthwise conv weight [c, 1, kh, kw] by the owning module, not by shape', async () => {
    const model = new Sequential(new Conv2d(gpu, 3, 3, 3, { groups: 3 }));
    const weight = { data: Float32Array.from({ length: 27 }, (_, i) => i), shape: [3, 1, 3, 3] };
    loadTorchStateDict(model, { '0.weight': weight, '0.bias': { data: Float32Array.from([1, 2, 3]), shape: [3] } });
    const own = model.at(0) as Conv2d;
    expect(own.weight.shape).toEqual([3, 3, 3]);
    expect(await own.weight.read()).toEqual(depthwiseToHwc(weight).data);
    model.release();
  });

  it('a truncated checkpoint file names the file and the tensor', () => {
    const path = fixture('resnet_tiny_basic.safetensors');
    const bytes = readFileSync(path);
    expect(() => parseSafetensors(bytes.subarray(0, bytes.length - 100), path)).toThrow(/resnet_tiny_basic\.safetensors: tensor 'fc\.\w+': data_offsets .* out of range .*truncated/);
  });
});

describe('full-size torchvision models', () => {
  const count = (model: ResNet) => model.parameters().reduce((n, p) => n + p.size, 0);

  it('resnet18 has 11,689,512 parameters', () => {
    const model = resnet(gpu, 'resnet18');
    expect(count(model)).toBe(11_689_512);
    expect([...model.namedParameters()].some(([k]) => k === 'layer4.1.conv2.weight')).toBe(true);
    expect(model.layer2.at(0)).toBeInstanceOf(BasicBlock);
    model.release();
  });

  it('resnet50 has 25,557,032 parameters, the stride on the 3x3 conv (v1.5)', () => {
    const model = resnet(gpu, 'resnet50');
    expect(count(model)).toBe(25_557_032);
    const first = model.layer2.at(0) as Bottleneck;
    expect(first.conv1.options.stride).toBe(1);
    expect(first.conv2.options.stride).toBe(2);
    expect(first.downsample?.at(0)).toBeDefined();
    expect(model.numFeatures).toBe(2048);
    model.release();
  });
});

