/** VGG: torchvision's names and parameter counts, forward shapes, the pooling options without a top. */
import { noGrad, tensor } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { testGpu } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { chwColumnsToHwc, GlobalMaxPool, VGG, vgg16, vggConfigs, vggParameterCount, type VggEntry } from './vgg.js';

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
});
