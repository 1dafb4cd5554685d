/**
 * A backbone's stages, run in order, are exactly its forward: the frozen-prefix / trainable-suffix
 * split must not change a single bit of what the model computes (with fusion on, as it runs).
 */
import { noGrad, tensor, type Layer, type Module } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { randomArray, testGpu } from '@graft/kernels/testing';
import { BasicBlock, Bottleneck, KerasResNet, MobileNetV2, ResNet, VGG } from '@graft/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { backboneStages, runStages } from './stages.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

const widths = [4, 8, 8, 12] as const;
const backbones: [name: string, make: () => Module & Layer][] = [
  ['MobileNetV2 (Keras flavour, skip and no-skip blocks)', () => new MobileNetV2(gpu, { table: [[1, 8, 1, 1], [6, 8, 2, 2]], alpha: 0.35, includeTop: false, flavour: 'keras' })],
  ['torchvision ResNet, basic blocks', () => new ResNet(gpu, BasicBlock, [1, 1, 1, 1], { widths, includeTop: false })],
  ['torchvision ResNet, bottlenecks', () => new ResNet(gpu, Bottleneck, [1, 2, 1, 1], { widths, includeTop: false })],
  ['Keras ResNet (biased convolutions)', () => new KerasResNet(gpu, { widths, includeTop: false })],
  ['VGG', () => new VGG(gpu, [4, 'M', 8, 8, 'M'], { includeTop: false })],
];

describe('backbone stages', () => {
  it.each(backbones)('%s: the stages in order give the forward, bit for bit', async (_, make) => {
    const model = make();
    model.eval();
    const x = tensor(gpu, randomArray(7, 2 * 37 * 37 * 3, -1, 1), [2, 37, 37, 3]);
    const whole = noGrad(() => model.forward(x));
    const staged = noGrad(() => runStages(backboneStages(model), x));
    const [a, b] = [await whole.read(), await staged.read()];
    expect(staged.shape).toEqual(whole.shape);
    expect(b).toEqual(a);
    expect(a.some((v) => v !== 0)).toBe(true);
    for (const t of [whole, staged, x]) t.release();
    model.release();
  });
});
