/** VGG: torchvision's names and parameter counts, forward shapes, the pooling options without a top. */
import { noGrad, tensor } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { testGpu } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expectClose } from '@graft/kernels/testing';
import { readSafetensors } from './importers/safetensors.js';
import { chwColumnsToHwc, hwcColumnsToChw, loadTorchStateDict, torchStateDict } from './importers/torchLayout.js';
import { readKerasH5 } from './importers/kerasH5.js';
import { loadPretrained } from './pretrained.js';
import { loadKerasVgg } from './vggKeras.js';
import { GlobalMaxPool, VGG, vgg16, vggConfigs, vggParameterCount, type VggEntry } from './vgg.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

const tiny: VggEntry[] = [4, 'M', 8, 8, 'M'];
const tinyOptions = { numClasses: 5, hidden: 16, poolSize: 2 };
const count = (m: VGG) => [...m.namedParameters()].reduce((a, [, p]) => a + p.size, 0);
const input = (shape: number[]) => tensor(gpu, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37)), shape);

describe('VGG', () => {
  it("counts torchvision's parameters from the tables", () => {
    expect(vggParameterCount(vggConfigs.D)).toBe(138_357_544); // torchvision vgg16
    expect(vggParameterCount(vggConfigs.E)).toBe(143_667_240); // torchvision vgg19
    expect(vggParameterCount(vggConfigs.A)).toBe(132_863_336); // vgg11
    expect(vggParameterCount(vggConfigs.D, { includeTop: false })).toBe(14_714_688); // Keras VGG16(include_top=False)
  });

  it('builds vgg16 with 138,357,544 parameters', () => {
    const model = vgg16(gpu);
    expect(count(model)).toBe(138_357_544);
    expect(model.classifier!.at(0).parameters()[0]!.shape).toEqual([4096, 25088]);
    model.release();
  }, 120_000);

  it("has torchvision's names on a tiny config, and the formula matches the model", () => {
    const model = new VGG(gpu, tiny, tinyOptions);
    expect([...model.namedParameters()].map(([k]) => k)).toEqual([
      'features.0.weight',
      'features.0.bias',
      'features.3.weight',
      'features.3.bias',
      'features.5.weight',
      'features.5.bias',
      'classifier.0.weight',
      'classifier.0.bias',
      'classifier.3.weight',
      'classifier.3.bias',
      'classifier.6.weight',
      'classifier.6.bias',
    ]);
    expect(count(model)).toBe(vggParameterCount(tiny, tinyOptions));
    expect(model.classifier!.at(0).parameters()[0]!.shape).toEqual([16, 8 * 2 * 2]);
    model.release();
  });

  it('forward: logits at the 7x7-style size, an error naming the size otherwise', async () => {
    const model = new VGG(gpu, tiny, tinyOptions).eval();
    const x = input([2, 8, 8, 3]);
    const y = noGrad(() => model.forward(x));
    expect(y.shape).toEqual([2, 5]);
    expect((await y.read()).every(Number.isFinite)).toBe(true);
    y.release();
    x.release();
    const big = input([1, 16, 16, 3]);
    expect(() => noGrad(() => model.forward(big))).toThrow(/2x2 feature map.*got 4x4/);
    big.release();
    model.release();
  });

  it("includeTop false: pooling 'avg' | 'max' | 'none'", async () => {
    const x = input([2, 12, 12, 3]);
    const shapes: Record<string, number[]> = { avg: [2, 8], max: [2, 8], none: [2, 3 * 3 * 8] };
    for (const pooling of ['avg', 'max', 'none'] as const) {
      const model = new VGG(gpu, tiny, { includeTop: false, pooling });
      expect(model.classifier).toBeNull();
      expect([...model.namedParameters()].every(([k]) => k.startsWith('features.'))).toBe(true);
      const y = noGrad(() => model.forward(x));
      expect(y.shape).toEqual(shapes[pooling]);
      y.release();
      model.release();
    }
    x.release();
  });

  it('GlobalMaxPool takes the max over h and w per channel', async () => {
    const data = Float32Array.from([1, -1, 5, 2, 3, 7, -4, 0, 2, 9, 0, 1]); // [1, 2, 3, 2]
    const x = tensor(gpu, data, [1, 2, 3, 2]);
    const y = noGrad(() => new GlobalMaxPool().forward(x));
    expect(y.shape).toEqual([1, 2]);
    expect(Array.from(await y.read())).toEqual([5, 9]);
    y.release();
    x.release();
  });

  it('chwColumnsToHwc permutes an NCHW-flatten weight into NHWC order', () => {
    // out 1, c 2, h 1, w 2: torch columns (c0w0, c0w1, c1w0, c1w1) -> graft (w0c0, w0c1, w1c0, w1c1)
    expect(Array.from(chwColumnsToHwc(Float32Array.from([1, 2, 3, 4]), 1, 2, 1, 2))).toEqual([1, 3, 2, 4]);
  });
  it('hwcColumnsToChw undoes chwColumnsToHwc', () => {
    const w = Float32Array.from({ length: 3 * 2 * 3 * 4 }, (_, i) => i);
    const there = chwColumnsToHwc(w, 3, 2, 3, 4);
    expect(Array.from(there)).not.toEqual(Array.from(w));
    expect(Array.from(hwcColumnsToChw(there, 3, 2, 3, 4))).toEqual(Array.from(w));
  });
});

describe('vgg_tiny golden (torchvision make_layers + VGG classifier, NCHW flatten)', () => {
  interface Golden {
    config: VggEntry[];
    hidden: number;
    numClasses: number;
    poolSize: number;
    input: { shape: number[]; data: number[] };
    logits: { shape: number[]; data: number[] };
  }
  const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
  const g = JSON.parse(readFileSync(fixture('vgg_tiny.json'), 'utf8')) as Golden;
  const build = () => new VGG(gpu, g.config, { numClasses: g.numClasses, hidden: g.hidden, poolSize: g.poolSize, dropout: 0.5 }).eval();
  const logits = async (model: VGG) => {
    const x = tensor(gpu, Float32Array.from(g.input.data), g.input.shape);
    const y = noGrad(() => model.forward(x));
    const out = await y.read();
    y.release();
    x.release();
    return out;
  };

  it("loads torchvision's classifier.0 (columns in NCHW-flatten order) and matches PyTorch's logits", async () => {
    const state = readSafetensors(fixture('vgg_tiny.safetensors'));
    const model = build();
    expect(loadTorchStateDict(model, state)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    // f32 sums of at most 72 products per conv output vs a float64 run: ~1e-6; 1e-4 is headroom.
    expectClose(await logits(model), g.logits.data, { rtol: 1e-4, atol: 1e-4 }, 'vgg_tiny logits');

    // Control: the same weights with the columns left in PyTorch's order must miss.
    const unpermuted = build();
    unpermuted.loadStateDict(new Map([['classifier.0.weight', state.get('classifier.0.weight')!]]), { strict: false });
    for (const [k, v] of state) if (k !== 'classifier.0.weight') loadTorchStateDict(unpermuted, new Map([[k, v]]), { strict: false });
    const off = await logits(unpermuted);
    expect(Math.max(...Array.from(off, (v, i) => Math.abs(v - g.logits.data[i]!)))).toBeGreaterThan(1e-3);

    // Export writes PyTorch's order back: the state dict round-trips bit for bit.
    const exported = await torchStateDict(model);
    expect(Array.from(exported.get('classifier.0.weight')!.data)).toEqual(Array.from(state.get('classifier.0.weight')!.data));
    model.release();
    unpermuted.release();
  });

  it('loads keras.applications-layout VGG weights (.h5: block{b}_conv{i}, fc1/fc2/predictions) with caffe preprocessing', async () => {
    const model = build();
    const loaded = await loadPretrained(model, fixture('vgg_tiny_keras.h5'));
    expect(loaded).toMatchObject({ format: 'keras-h5', origin: 'keras-vgg', preprocessing: { name: 'keras-caffe' } });
    // Same f32 weights as the torchvision file, fc1 already in the NHWC-flatten order: same logits.
    expectClose(await logits(model), g.logits.data, { rtol: 1e-4, atol: 1e-4 }, 'vgg_tiny keras logits');
    const { tensors } = await readKerasH5(fixture('vgg_tiny_keras.h5'));
    tensors.set('fc3/kernel', { data: new Float32Array(1), shape: [1, 1], stored: '<f' });
    expect(() => loadKerasVgg(model, tensors)).toThrow(/unexpected keys \(1\): fc3\/kernel/);
    model.release();
  });
});
