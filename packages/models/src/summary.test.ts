/** summary: per-module output shapes and counts, Keras-style totals with a frozen layer and BN statistics. */
import { BatchNorm2d, Conv2d, freeze, GlobalAvgPool, Linear, ReLU, Sequential } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { testGpu } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatSummary, summary } from './summary.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

describe('summary', () => {
  it('rows, totals (BN moving stats non-trainable, num_batches_tracked uncounted) and the table', async () => {
    const conv = new Conv2d(gpu, 3, 4, 3, { padding: 1 });
    const bn = new BatchNorm2d(gpu, 4);
    const model = new Sequential(conv, bn, new ReLU(), new GlobalAvgPool(), new Linear(gpu, 4, 2));
    freeze(conv);
    model.train();
    const s = summary(model, [1, 5, 5, 3]);
    expect(s.rows.map((r) => [r.path, r.type, r.outputShape, r.params, r.trainableParams, r.nonTrainableParams, r.status])).toEqual([
      ['', 'Sequential', [1, 2], 0, 0, 0, ''],
      ['0', 'Conv2d', [1, 5, 5, 4], 112, 0, 112, 'frozen'],
      ['1', 'BatchNorm2d', [1, 5, 5, 4], 16, 8, 8, 'trainable'], // its parameters train; the moving stats are non-trainable counts,
      ['2', 'ReLU', [1, 5, 5, 4], 0, 0, 0, ''],
      ['3', 'GlobalAvgPool', [1, 4], 0, 0, 0, ''],
      ['4', 'Linear', [1, 2], 10, 10, 0, 'trainable'],
    ]);
    expect([s.totalParams, s.trainableParams, s.nonTrainableParams]).toEqual([138, 18, 120]);
    // The forward ran in eval mode and left everything as it was.
    expect([...model.namedModules()].every(([, m]) => m.training)).toBe(true);
    expect([...model.namedModules()].some(([, m]) => Object.prototype.hasOwnProperty.call(m, 'forward'))).toBe(false);
    expect(Array.from(await bn.runningMean.read())).toEqual([0, 0, 0, 0]);
    expect(Array.from(await bn.numBatchesTracked!.read())).toEqual([0]);

    const table = formatSummary(s);
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^Layer\s+Type\s+Output shape\s+Params\s+Trainable$/);
    expect(lines).toContain(lines.find((l) => /^0\s+Conv2d\s+\[1, 5, 5, 4\]\s+112\s+frozen$/.test(l)));
    expect(table).toContain('Total params: 138\nTrainable params: 18\nNon-trainable params: 120');
    expect(formatSummary(s.rows)).toBe(table);

    // An explicit bnMode 'train' (batch statistics even in eval) is held for the shape pass and restored:
    // the conv's bias makes the batch mean non-zero, so an update would show in running_mean.
    bn.bnMode = 'train';
    summary(model, [2, 5, 5, 3]);
    expect(bn.bnMode).toBe('train');
    expect(Array.from(await bn.runningMean.read())).toEqual([0, 0, 0, 0]);
    expect(Array.from(await bn.numBatchesTracked!.read())).toEqual([0]);
    model.release();
  });
});
