import { createGpu, type Gpu } from '@graft/kernels';
import { randomArray, randomLabels } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensor } from './create.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool, Linear, ReLU, Sequential } from './nn/layers.js';
import { softmaxCrossEntropy } from './ops/loss.js';
import { SGD } from './optim/sgd.js';
import { backward } from './tape.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await createGpu();
});

describe('memory', () => {
  it('stays flat over 1,000 SGD steps of a small CNN: bytes in use and buffers created at step 10 equal those at step 1,000', async () => {
    const model = new Sequential(
      new Conv2d(gpu, 3, 8, 3, { padding: 'same', seed: 1 }),
      new BatchNorm2d(gpu, 8),
      new ReLU(),
      new Conv2d(gpu, 8, 8, 3, { stride: 2, padding: 'same', seed: 2 }),
      new BatchNorm2d(gpu, 8),
      new ReLU(),
      new GlobalAvgPool(),
      new Linear(gpu, 8, 4, { seed: 3 }),
    );
    model.train();
    const x = tensor(gpu, randomArray(11, 4 * 8 * 8 * 3), [4, 8, 8, 3]);
    const labels = randomLabels(12, 4, 4);
    const optimizer = new SGD(model, { lr: 0.05, momentum: 0.9 });
    const losses: number[] = [];
    let atStep10 = gpu.memory();
    for (let step = 1; step <= 1000; step++) {
      const loss = softmaxCrossEntropy(model.forward(x), labels);
      backward(loss);
      optimizer.step();
      optimizer.zeroGrad();
      // The caller asks for the loss every 100 steps; nothing else is read back inside a step.
      if (step % 100 === 0) losses.push((await loss.read())[0]!);
      loss.release();
      if (step === 10) {
        await gpu.sync();
        atStep10 = gpu.memory();
      }
    }
    await gpu.sync();
    const atStep1000 = gpu.memory();
    // Exactly equal: the pool hands the same buffers back every step; any growth is a leak.
    expect(atStep1000.bytesInUse).toBe(atStep10.bytesInUse);
    expect(atStep1000.buffersCreated).toBe(atStep10.buffersCreated);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]!);
    optimizer.release();
    model.release();
    x.release();
  }, 120_000);
});
