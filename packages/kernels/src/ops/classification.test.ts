import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { randomLabels, randomTensor, testGpu } from '../testing/index.js';
import { confusionCounts, confusionCountsHost, topkCorrect, topkCorrectHost } from './classification.js';
import { confusionCountsRef, topkCorrectRef } from './classification.ref.js';
import { meanAll } from './sumRows.js';

// Tolerance: none. Both kernels compare f32 values and count; the outputs are exact integers.

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

const shapes: [n: number, k: number][] = [
  [1, 1],
  [1, 7],
  [5, 1],
  [9, 6],
  [37, 10], // k not a multiple of 4, n not a multiple of the 16-row workgroup
  [70, 1000],
];

/** Logits rounded to a coarse grid so rows have many ties, including at the top and at the label. */
function tiedLogits(seed: number, n: number, k: number) {
  const t = randomTensor(seed, [n, k], 0, 4);
  return { data: t.data.map(Math.floor), shape: t.shape };
}

describe('classification references', () => {
  it('topkCorrectRef counts a boundary tie as inside and matches hand-worked rows', () => {
    const x = [3, 1, 3, 2, /* row 1 */ 0, 5, 5, 5];
    // row 0: top-1 threshold 3 -> label 2 (3) inside; top-2 threshold 3 -> label 3 (2) outside, top-3 inside.
    expect(Array.from(topkCorrectRef(x, [2, 0], 2, 4, 1))).toEqual([1, 0]);
    expect(Array.from(topkCorrectRef(x, [3, 3], 2, 4, 2))).toEqual([0, 1]);
    expect(Array.from(topkCorrectRef(x, [3, 0], 2, 4, 3))).toEqual([1, 0]);
    expect(Array.from(topkCorrectRef(x, [3, 0], 2, 4, 4))).toEqual([1, 1]);
  });

  it('confusionCountsRef takes the first maximum and puts the label on the row', () => {
    const x = [3, 1, 3, /* row 1 */ 0, 5, 5, /* row 2 */ 9, 0, 0];
    // predictions: 0, 1, 0; labels 2, 1, 2.
    expect(Array.from(confusionCountsRef(x, [2, 1, 2], 3, 3))).toEqual([0, 0, 0, 0, 1, 0, 2, 0, 0]);
  });
});

describe('topkCorrect', () => {
  for (const [n, k] of shapes) {
    for (const topK of [1, 2, 5].filter((t) => t <= k)) {
      it(`matches the reference on [${n}, ${k}], top-${topK} (random and tied logits)`, async () => {
        const labels = randomLabels(n + k + topK, n, k);
        for (const logits of [randomTensor(n * k, [n, k], -3, 3), tiedLogits(n * k + 1, n, k)]) {
          const got = await topkCorrectHost(gpu, logits, labels, topK);
          expect(Array.from(got.data)).toEqual(Array.from(topkCorrectRef(logits.data, labels, n, k, topK)));
          expect(got.shape).toEqual([n]);
        }
      });
    }
  }

  it('top-k with k = number of classes is always correct; a tie with the maximum counts as top-1', async () => {
    const logits = { data: Float32Array.of(1, 2, 2, /* row 1 */ 4, 4, 4), shape: [2, 3] };
    expect(Array.from((await topkCorrectHost(gpu, logits, [0, 1], 3)).data)).toEqual([1, 1]);
    expect(Array.from((await topkCorrectHost(gpu, logits, [1, 2], 1)).data)).toEqual([1, 1]);
    expect(Array.from((await topkCorrectHost(gpu, logits, [0, 0], 2)).data)).toEqual([0, 1]);
  });

  it('a NaN logit at the label is not correct; a NaN elsewhere does not push the label out', async () => {
    const logits = { data: Float32Array.of(NaN, 1, 2, /* row 1 */ NaN, 3, 1), shape: [2, 3] };
    expect(Array.from((await topkCorrectHost(gpu, logits, [0, 1], 1)).data)).toEqual([0, 1]);
    expect(Array.from(topkCorrectRef(logits.data, [0, 1], 2, 3, 1))).toEqual([0, 1]);
  });

  it('a label >= k on the GPU gives NaN for that row, so the mean is NaN', async () => {
    const logits = gpu.upload(Float32Array.of(1, 2, 3, 4), [2, 2]);
    const labels = gpu.upload(Uint32Array.of(1, 2), [2]);
    const correct = topkCorrect(gpu, logits, labels);
    const mean = meanAll(gpu, correct);
    const values = await gpu.read(correct);
    expect(values[0]).toBe(1);
    expect(values[1]).toBeNaN();
    expect((await gpu.read(mean))[0]).toBeNaN();
    gpu.release(logits, labels, correct, mean);
  });

  it('rejects bad arguments before dispatch', async () => {
    const logits = gpu.upload(new Float32Array(12), [3, 4]);
    const labels = gpu.upload(Uint32Array.of(0, 1, 2), [3]);
    expect(() => topkCorrect(gpu, logits, labels, 5)).toThrow(/'topK' expected at most k = 4/);
    expect(() => topkCorrect(gpu, logits, labels, 0)).toThrow(KernelArgumentError);
    expect(() => topkCorrect(gpu, logits, labels, 1.5)).toThrow(/'topK' expected a positive integer/);
    expect(() => topkCorrect(gpu, logits.reshape([12]), labels)).toThrow(/'logits' expected rank 2/);
    expect(() => topkCorrect(gpu, logits, labels.reshape([3, 1]))).toThrow(/'labels' expected shape \[3\]/);
    const floatLabels = gpu.upload(new Float32Array(3), [3]);
    expect(() => topkCorrect(gpu, logits, floatLabels)).toThrow(/'labels' expected dtype u32/);
    gpu.release(logits, labels, floatLabels);
    const host = { data: new Float32Array(12), shape: [3, 4] };
    await expect(topkCorrectHost(gpu, host, [0, 1, 4])).rejects.toThrow(/'labels\[2\]' expected an integer class index in \[0, 4\), found 4/);
    await expect(topkCorrectHost(gpu, host, [0, 1])).rejects.toThrow(/'labels' expected 3 labels/);
    await expect(topkCorrectHost(gpu, host, [0, -1, 2])).rejects.toThrow(KernelArgumentError);
  });
});

describe('confusionCounts', () => {
  for (const [n, k] of shapes) {
    it(`matches the reference on [${n}, ${k}] (random and tied logits)`, async () => {
      const labels = randomLabels(n + k, n, k);
      for (const logits of [randomTensor(n * k + 2, [n, k], -3, 3), tiedLogits(n * k + 3, n, k)]) {
        const got = await confusionCountsHost(gpu, logits, labels);
        expect(got.shape).toEqual([k, k]);
        expect(Array.from(got.data)).toEqual(Array.from(confusionCountsRef(logits.data, labels, n, k)));
      }
    });
  }

  it('many rows in one cell: 300 identical rows all land on one count (atomics, not a race)', async () => {
    const n = 300;
    const logits = { data: new Float32Array(n * 3).map((_, e) => (e % 3 === 1 ? 1 : 0)), shape: [n, 3] };
    const got = await confusionCountsHost(gpu, logits, new Uint32Array(n).fill(2));
    expect(Array.from(got.data)).toEqual([0, 0, 0, 0, 0, 0, 0, n, 0]);
  });

  it('starts from zero every call, even in a pooled buffer that held counts before', async () => {
    const logits = randomTensor(5, [20, 4], -1, 1);
    const labels = randomLabels(6, 20, 4);
    const want = Array.from(confusionCountsRef(logits.data, labels, 20, 4));
    for (let r = 0; r < 3; r++) expect(Array.from((await confusionCountsHost(gpu, logits, labels)).data)).toEqual(want);
  });

  it('NaN logits are never predicted; a row of NaNs predicts class 0', async () => {
    const logits = { data: Float32Array.of(NaN, 1, 2, /* row 1 */ 5, NaN, 7, /* row 2 */ NaN, NaN, NaN), shape: [3, 3] };
    const got = await confusionCountsHost(gpu, logits, [0, 1, 2]);
    expect(Array.from(got.data)).toEqual(Array.from(confusionCountsRef(logits.data, [0, 1, 2], 3, 3)));
    expect(Array.from(got.data)).toEqual([0, 0, 1, 0, 0, 1, 1, 0, 0]);
  });

  it('a label >= k on the GPU is skipped, so the counts sum to less than n', async () => {
    const logits = gpu.upload(Float32Array.of(1, 2, 3, 4), [2, 2]);
    const labels = gpu.upload(Uint32Array.of(0, 7), [2]);
    const counts = confusionCounts(gpu, logits, labels);
    expect(Array.from(await gpu.readUint32(counts))).toEqual([0, 1, 0, 0]);
    gpu.release(logits, labels, counts);
  });

  it('rejects bad arguments before dispatch', async () => {
    const logits = gpu.upload(new Float32Array(12), [3, 4]);
    const labels = gpu.upload(Uint32Array.of(0, 1, 2), [3]);
    expect(() => confusionCounts(gpu, logits.reshape([2, 6]), labels)).toThrow(/'labels' expected shape \[2\]/);
    expect(() => confusionCounts(gpu, logits.reshape([1, 3, 4]), labels)).toThrow(KernelArgumentError);
    expect(() => confusionCounts(gpu, labels, labels)).toThrow(/'logits' expected rank 2/);
    const intLogits = gpu.upload(new Int32Array(12), [3, 4]);
    expect(() => confusionCounts(gpu, intLogits, labels)).toThrow(/'logits' expected dtype f32/);
    gpu.release(logits, labels, intLogits);
    const host = { data: new Float32Array(12), shape: [3, 4] };
    await expect(confusionCountsHost(gpu, host, [0, 1.5, 2])).rejects.toThrow(/labels\[1\]/);
    await expect(confusionCountsHost(gpu, { data: new Float32Array(12), shape: [12] }, [0])).rejects.toThrow(/'logits' expected rank 2/);
  });
});
