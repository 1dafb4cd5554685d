/**
 * MobileNetV2 against torchvision: tools/fixtures/mobilenetv2_tiny.py builds torchvision's own
 * MobileNetV2 (width_mult 0.5, a three-row table), writes its state dict as safetensors and its
 * eval-mode logits and pooled features (float64 run of the stored f32 weights) as JSON. Here the file
 * goes through the strict key loop into graft's MobileNetV2 and the f32 forward must match.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BatchNorm2d, Conv2d, Dropout, noGrad, tensor, type Tensor } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { expectClose, testGpu } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTorchStateDict } from './importers/torchLayout.js';
import { readSafetensors } from './importers/safetensors.js';
import { InvertedResidual, makeDivisible, MobileNetV2, mobilenetV2, type InvertedResidualRow } from './mobilenetV2.js';

// Logits go through ~16 convs and a 1280-wide head; compared with a float64 run of the same f32
// weights, f32 rounding stays ~1e-5 relative; 1e-4 leaves headroom while any layout, padding or BN
// mistake moves the logits by O(0.1).
const tolerance = { rtol: 1e-4, atol: 1e-4 };

interface Golden {
  table: InvertedResidualRow[];
  alpha: number;
  numClasses: number;
  keys: string[];
  input: { shape: number[]; data: number[] };
  logits: { shape: number[]; data: number[] };
  pooled: { shape: number[]; data: number[] };
  /** The same weights run with Keras' padding (correct_pad + valid on stride 2) and BN eps 1e-3. */
  keras: { logits: number[]; pooled: number[] };
  /** One train-mode forward (resnet_tiny.train_golden): input as integers k, x = k / 64 - 1. */
  train: {
    input: { shape: number[]; k: number[] };
    logits: { shape: number[]; data: number[] };
    runningMean: Record<string, number[]>;
    runningVar: Record<string, number[]>;
    numBatchesTracked: number;
  };
}

const name = 'mobilenetv2_tiny';
const fixture = (file: string) => fileURLToPath(new URL(`../fixtures/${file}`, import.meta.url));
const golden = (): Golden => JSON.parse(readFileSync(fixture(`${name}.json`), 'utf8')) as Golden;
const count = (model: MobileNetV2) => model.parameters().reduce((n, p) => n + p.size, 0);

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

async function run(g: Golden, f: (x: Tensor) => Tensor): Promise<Float32Array> {
  const x = tensor(gpu, Float32Array.from(g.input.data), g.input.shape);
  const y = noGrad(() => f(x));
  const values = await y.read();
  y.release();
  x.release();
  return values;
}

describe('mobilenetv2_tiny golden (torchvision MobileNetV2)', () => {
  const build = (g: Golden, includeTop = true) => new MobileNetV2(gpu, { table: g.table, alpha: g.alpha, numClasses: g.numClasses, includeTop });

  it('has exactly torchvision state-dict keys, in order', () => {
    const g = golden();
    const model = build(g);
    expect(Object.keys(model.stateDict())).toEqual(g.keys);
    const buffers = /\.(running_mean|running_var|num_batches_tracked)$/;
    expect([...model.namedParameters()].map(([k]) => k)).toEqual(g.keys.filter((k) => !buffers.test(k)));
    model.release();
  });

  it('loads strictly and matches the eval-mode logits and pooled features', async () => {
    const g = golden();
    const model = build(g);
    expect(loadTorchStateDict(model, readSafetensors(fixture(`${name}.safetensors`)))).toEqual({ missingKeys: [], unexpectedKeys: [] });
    model.eval();
    expectClose(await run(g, (x) => model.forward(x)), g.logits.data, tolerance, `${name} logits`);
    expectClose(await run(g, (x) => model.pooled(x)), g.pooled.data, tolerance, `${name} pooled`);
    model.release();
  });

  it('without a top returns the pooled features; a non-strict load reports the classifier as unexpected', async () => {
    const g = golden();
    const model = build(g, false);
    expect(model.classifier).toBeNull();
    const result = loadTorchStateDict(model, readSafetensors(fixture(`${name}.safetensors`)), { strict: false });
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: ['classifier.1.weight', 'classifier.1.bias'] });
    model.eval();
    const y = await run(g, (x) => model.forward(x));
    expect(y.length).toBe(g.pooled.data.length);
    expectClose(y, g.pooled.data, tolerance, `${name} headless`);
    model.release();
  });
});

describe('mobilenetv2_tiny train-mode golden (batch statistics)', () => {
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

  // Every BN normalises with batch statistics (>= 64 values per channel here) and takes one
  // momentum-0.1 step with the unbiased variance; f32 rounding stays ~1e-5 relative as in eval mode.
  it('matches PyTorch logits and the running_mean / running_var one forward leaves behind', async () => {
    const g = golden();
    const t = g.train;
    const model = new MobileNetV2(gpu, { table: g.table, alpha: g.alpha, numClasses: g.numClasses });
    loadTorchStateDict(model, readSafetensors(fixture(`${name}.safetensors`)));
    model.train();
    // Dropout masks come from each framework's own RNG; the fixture keeps it in eval mode too.
    const dropout = model.classifier!.at(0) as Dropout;
    expect(dropout).toBeInstanceOf(Dropout);
    dropout.eval();
    const bns = [...model.namedModules()].filter((e): e is [string, BatchNorm2d] => e[1] instanceof BatchNorm2d);
    expect(bns.map(([n]) => n)).toEqual(Object.keys(t.runningMean));
    const x = tensor(gpu, Float32Array.from(t.input.k, (k) => k / 64 - 1), t.input.shape);
    const y = noGrad(() => model.forward(x));
    const logits = await y.read();
    y.release();
    x.release();
    expectClose(logits, t.logits.data, tolerance, `${name} train-mode logits`);
    let stats = 0;
    for (const [n, bn] of bns) {
      const mean = await bn.runningMean.read();
      const variance = await bn.runningVar.read();
      expectClose(mean, t.runningMean[n]!, tolerance, `${name} ${n}.running_mean`);
      expectClose(variance, t.runningVar[n]!, tolerance, `${name} ${n}.running_var`);
      stats = Math.max(stats, maxDiff(mean, t.runningMean[n]!), maxDiff(variance, t.runningVar[n]!));
      expect(await bn.numBatchesTracked!.read(), `${n}.num_batches_tracked`).toEqual(Float32Array.of(t.numBatchesTracked));
    }
    console.log(`${name} train mode: max |graft - torch| logits ${maxDiff(logits, t.logits.data).toExponential(2)}, running stats ${stats.toExponential(2)}`);
    // Control: batch statistics matter, so the eval-mode run of the same input must miss the golden.
    model.eval();
    const x2 = tensor(gpu, Float32Array.from(t.input.k, (k) => k / 64 - 1), t.input.shape);
    const y2 = noGrad(() => model.forward(x2));
    expect(maxDiff(await y2.read(), t.logits.data)).toBeGreaterThan(1e-2);
    y2.release();
    x2.release();
    model.release();
  });
});

describe("flavour: 'keras'", () => {
  it('matches the same weights run with Keras padding and BN eps (emulated in torch by the fixture)', async () => {
    const g = golden();
    const model = new MobileNetV2(gpu, { table: g.table, alpha: g.alpha, numClasses: g.numClasses, flavour: 'keras' });
    expect(Object.keys(model.stateDict())).toEqual(g.keys);
    loadTorchStateDict(model, readSafetensors(fixture(`${name}.safetensors`)));
    model.eval();
    expectClose(await run(g, (x) => model.forward(x)), g.keras.logits, tolerance, `${name} keras logits`);
    expectClose(await run(g, (x) => model.pooled(x)), g.keras.pooled, tolerance, `${name} keras pooled`);
    model.release();
  });

  it("uses TF 'same' padding, BN eps 1e-3 and momentum 0.001 (Keras 0.999); same parameter count", () => {
    const model = mobilenetV2(gpu, { flavour: 'keras' });
    expect(model.flavour).toBe('keras');
    expect(count(model)).toBe(3_504_872);
    const stem = model.features.at(0) as unknown as { at(i: number): unknown };
    expect((stem.at(0) as Conv2d).options.padding).toBe('same');
    const bn = stem.at(1) as BatchNorm2d;
    expect(bn.options.eps).toBe(1e-3);
    expect(bn.options.momentum).toBeCloseTo(0.001, 12);
    const block = model.features.at(2) as InvertedResidual;
    expect(((block.conv.at(3) as BatchNorm2d).options.eps)).toBe(1e-3);
    model.release();
  });
});

describe('MobileNetV2 construction', () => {
  it('rounds widths like torchvision _make_divisible', () => {
    expect(makeDivisible(12)).toBe(16);
    expect(makeDivisible(32 * 0.35)).toBe(16);
    expect(makeDivisible(16 * 0.35)).toBe(8);
    expect(makeDivisible(96 * 0.75)).toBe(72);
    expect(makeDivisible(1280 * 1.4)).toBe(1792);
  });

  it('full-size mobilenet_v2 has 3,504,872 parameters and torchvision names', () => {
    const model = mobilenetV2(gpu);
    expect(count(model)).toBe(3_504_872);
    expect(model.features.length).toBe(19);
    const names = new Set([...model.namedParameters()].map(([k]) => k));
    for (const k of ['features.0.0.weight', 'features.1.conv.0.0.weight', 'features.1.conv.1.weight', 'features.17.conv.2.weight', 'features.18.0.weight', 'classifier.1.weight']) {
      expect(names.has(k), k).toBe(true);
    }
    const block = model.features.at(2) as InvertedResidual;
    expect(block.useResidual).toBe(false);
    expect((model.features.at(3) as InvertedResidual).useResidual).toBe(true);
    const dw = block.conv.at(1) as unknown as { at(i: number): unknown };
    expect((dw.at(0) as Conv2d).depthwise).toBe(true);
    expect((dw.at(0) as Conv2d).options.stride).toBe(2);
    expect((dw.at(0) as Conv2d).options.padding).toBe(1);
    expect((dw.at(1) as BatchNorm2d).options.eps).toBe(1e-5);
    model.release();
  });

  it('includeTop false gives [n, 1280] features; alpha > 1 widens the head', async () => {
    const model = new MobileNetV2(gpu, { includeTop: false, table: [[1, 8, 1, 1], [6, 8, 1, 2]] });
    expect(model.numFeatures).toBe(1280);
    const x = tensor(gpu, new Float32Array(2 * 16 * 16 * 3).fill(0.5), [2, 16, 16, 3]);
    const y = noGrad(() => model.forward(x));
    expect(y.shape).toEqual([2, 1280]);
    y.release();
    x.release();
    model.release();
    const wide = new MobileNetV2(gpu, { includeTop: false, alpha: 1.4, table: [[1, 8, 1, 1]] });
    expect(wide.numFeatures).toBe(1792);
    wide.release();
  });

  it('rejects an empty table and a non-positive alpha', () => {
    expect(() => new MobileNetV2(gpu, { table: [] })).toThrow(/table/);
    expect(() => new MobileNetV2(gpu, { alpha: 0 })).toThrow(/alpha/);
  });
});
