import { createGpu, GpuTensor, type Gpu } from '@graft/kernels';
import { randomArray, randomLabels } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensor } from './create.js';
import { AutogradError } from './errors.js';
import { accuracy, confusionMatrix, readConfusionMatrix, topKAccuracy } from './metrics.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await createGpu();
});

/** Written here from the definitions: rank of the label's logit among its row, and argmax (first max). */
function expected(x: Float32Array, labels: Uint32Array, n: number, k: number, topK: number) {
  let hits = 0;
  const counts = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < n; i++) {
    const row = Array.from(x.subarray(i * k, (i + 1) * k));
    const kth = [...row].sort((a, b) => b - a)[topK - 1]!;
    if (row[labels[i]!]! >= kth) hits++;
    counts[labels[i]!]![row.indexOf(Math.max(...row))]!++;
  }
  return { accuracy: hits / n, counts };
}

describe('accuracy and topKAccuracy', () => {
  const [n, k] = [23, 7];
  const x = randomArray(1, n * k, -2, 2);
  const labels = randomLabels(2, n, k);

  it('match the definition for top-1, top-3 and top-k = classes, with host labels', async () => {
    const logits = tensor(gpu, x, [n, k]);
    for (const topK of [1, 3, 7]) {
      const acc = topK === 1 ? accuracy(logits, labels) : topKAccuracy(logits, labels, topK);
      expect(acc.shape).toEqual([1]);
      expect(acc.requiresGrad).toBe(false);
      // The mean of n 0/1 values in f32: exact up to one rounding of hits / n.
      expect((await acc.read())[0]).toBeCloseTo(expected(x, labels, n, k, topK).accuracy, 6);
      acc.release();
    }
    logits.release();
  });

  it('accept labels already on the GPU, and a tie with the maximum counts as correct', async () => {
    const logits = tensor(gpu, [1, 3, 3, /* row 1 */ 2, 0, 1, /* row 2 */ 0, 0, 5, /* row 3 */ 4, 4, 4], [4, 3]);
    const labelTensor = gpu.upload(Uint32Array.of(2, 2, 2, 1), [4], 'u32');
    const acc = accuracy(logits, labelTensor);
    expect(Array.from(await acc.read())).toEqual([0.75]);
    const top2 = topKAccuracy(logits, labelTensor, 2);
    expect(Array.from(await top2.read())).toEqual([1]);
    gpu.release(labelTensor);
    acc.release();
    top2.release();
    logits.release();
  });

  it('leave no buffers behind beyond the returned [1] tensor', async () => {
    const logits = tensor(gpu, x, [n, k]);
    const run = async () => {
      const acc = topKAccuracy(logits, labels, 2);
      await acc.read();
      acc.release();
    };
    await run();
    await gpu.sync();
    const before = gpu.memory().bytesInUse;
    for (let r = 0; r < 3; r++) await run();
    await gpu.sync();
    expect(gpu.memory().bytesInUse).toBe(before);
    logits.release();
  });

  it('reject labels that do not fit the logits', () => {
    const logits = tensor(gpu, x, [n, k]);
    expect(() => accuracy(logits, labels.subarray(1))).toThrow(/22 labels for 23 rows/);
    expect(() => accuracy(logits, Uint32Array.from(labels).fill(7, 4, 5))).toThrow(/labels\[4\] = 7 is not a class index in \[0, 7\)/);
    expect(() => topKAccuracy(logits, labels, 8)).toThrow(/'topK' expected at most k = 7/);
    const flat = tensor(gpu, x, [n * k]);
    expect(() => accuracy(flat, labels)).toThrow(AutogradError);
    flat.release();
    logits.release();
  });
});

describe('confusionMatrix', () => {
  it('counts label rows against argmax columns, and reads back as rows', async () => {
    const [n, k] = [40, 5];
    const x = randomArray(3, n * k, -1, 1);
    const labels = randomLabels(4, n, k);
    const logits = tensor(gpu, x, [n, k]);
    const counts = confusionMatrix(logits, labels, k);
    expect(counts).toBeInstanceOf(GpuTensor);
    expect(counts.dtype).toBe('u32');
    expect(counts.shape).toEqual([k, k]);
    const rows = await readConfusionMatrix(gpu, counts);
    expect(rows).toEqual(expected(x, labels, n, k, 1).counts);
    expect(rows.flat().reduce((a, b) => a + b, 0)).toBe(n);
    gpu.release(counts);
    logits.release();
  });

  it('rejects a class count that differs from the logits, and reading a non-square or f32 tensor', async () => {
    const logits = tensor(gpu, new Float32Array(12), [3, 4]);
    expect(() => confusionMatrix(logits, Uint32Array.of(0, 1, 2), 5)).toThrow(/5 classes, but logits .* have shape \[3, 4\]/);
    const f = gpu.upload(new Float32Array(4), [2, 2]);
    await expect(readConfusionMatrix(gpu, f)).rejects.toThrow(AutogradError);
    gpu.release(f);
    logits.release();
  });
});
