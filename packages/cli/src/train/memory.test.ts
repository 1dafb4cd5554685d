/**
 * "GPU memory after step 10 equals memory after step 1,000", at model level: a (narrow, short)
 * MobileNetV2 with a new head, trained through GraftModel's frozen prefix / trainable suffix with Adam
 * in the three regimes the CLI offers (head only, last unit, everything). The benchmark suite
 * (benchmarks/src/runModels.ts, "Memory over 1,000 steps") checks the full-size MobileNetV2 the same way.
 */
import { Adam, backward, softmaxCrossEntropy, tensor, type BatchNormMode } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { randomArray, randomLabels, testGpu } from '@graft/kernels/testing';
import { graftHead, kerasMobileNet, MobileNetV2 } from '@graft/models';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LoadedBackbone } from './backbones.js';
import { GraftModel } from './graftModel.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

/** MobileNetV2's structure (stem, inverted residuals with and without a skip, last 1x1) at a width and depth a test can afford. */
function smallMobileNetV2() {
  const table: [number, number, number, number][] = [[1, 8, 1, 1], [6, 8, 2, 2]];
  const backbone = new MobileNetV2(gpu, { table, alpha: 0.35, includeTop: false, flavour: 'keras' });
  return backbone.eval();
}

const regimes: [name: string, units: (gm: GraftModel) => number, bnMode: BatchNormMode][] = [
  ['head only', () => 0, 'frozen'],
  ['last unit', () => 1, 'frozen'],
  ['everything', (gm) => gm.units.length, 'train'],
];

describe('memory over 1,000 training steps of a GraftModel', () => {
  it.each(regimes)('%s: bytes in use and buffers created at step 10 equal those at step 1,000', async (_, units, bnMode) => {
    const backbone = smallMobileNetV2();
    const head = graftHead(gpu, backbone.numFeatures, { classes: 3 });
    const loaded: LoadedBackbone = { backbone, model: 'mobilenet_v2', flavour: 'keras', numFeatures: backbone.numFeatures, preprocessing: kerasMobileNet, weights: 'none', format: 'none' };
    const gm = new GraftModel(loaded, head);
    gm.setTrainable(units(gm), bnMode);
    gm.train();
    const x = tensor(gpu, randomArray(21, 2 * 16 * 16 * 3), [2, 16, 16, 3]);
    const labels = randomLabels(22, 2, 3);
    const optimizer = new Adam(gm.model, { lr: 1e-2 });
    const losses: number[] = [];
    let atStep10 = gpu.memory();
    for (let step = 1; step <= 1000; step++) {
      const loss = gm.trainStep(x, labels, optimizer);
      // The loss is read every 100 steps (reading every step, as the CLI does, only adds waiting).
      if (step % 100 === 0 || step === 1) losses.push((await loss.read())[0]!);
      loss.release();
      if (step === 10) {
        await gpu.sync();
        atStep10 = gpu.memory();
      }
    }
    await gpu.sync();
    const atStep1000 = gpu.memory();
    // Exactly equal: after the first steps the pool serves every request from buffers it holds; any growth is a leak.
    expect(atStep1000.bytesInUse).toBe(atStep10.bytesInUse);
    expect(atStep1000.buffersCreated).toBe(atStep10.buffersCreated);
    // It trained: the loss on the one batch fell.
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]!);
    await gpu.sync();
    optimizer.release();
    gm.release();
    x.release();
  }, 120_000);
});
