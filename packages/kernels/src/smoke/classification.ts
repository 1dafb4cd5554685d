/** Smoke cases: top-k correctness (top-1 and top-3) and the argmax confusion matrix. */
import { confusionCountsHost, topkCorrectHost } from '../ops/classification.js';
import { confusionCountsRef, topkCorrectRef } from '../ops/classification.ref.js';
import { randomLabels, randomTensor } from '../testing/random.js';
import type { SmokeCase } from './case.js';

/** logits [13, 6] in [-3, 3] with u32 labels (k = 6: not a multiple of 4). */
const [n, k] = [13, 6];
const logits = () => randomTensor(121, [n, k], -3, 3);
const labels = randomLabels(122, n, k);

export const classificationCases: SmokeCase[] = [
  {
    kernel: 'topkCorrect',
    shape: '[13, 6], top-1 and top-3',
    // Comparisons and counts only: the 0/1 outputs are exact.
    tolerance: 0,
    async run(gpu) {
      const x = logits();
      const comparisons = [];
      for (const topK of [1, 3]) {
        comparisons.push({ got: (await topkCorrectHost(gpu, x, labels, topK)).data, want: topkCorrectRef(x.data, labels, n, k, topK) });
      }
      return comparisons;
    },
  },
  {
    kernel: 'confusionCounts',
    shape: '[13, 6] -> [6, 6] counts',
    // Integer counts: exact.
    tolerance: 0,
    async run(gpu) {
      const x = logits();
      return [{ got: (await confusionCountsHost(gpu, x, labels)).data, want: confusionCountsRef(x.data, labels, n, k) }];
    },
  },
];
