/** Every smoke case, family by family, in the order `graft demo` prints them. */
import { batchNormCases } from './batchNorm.js';
import type { SmokeCase } from './case.js';
import { classificationCases } from './classification.js';
import { convCases } from './conv.js';
import { elementwiseCases } from './elementwise.js';
import { lossCases } from './losses.js';
import { matmulCases } from './matmul.js';
import { optimizerCases } from './optimizers.js';
import { poolingCases } from './pooling.js';

export type { Comparison, SmokeCase } from './case.js';
export { maxAbsDifference } from './case.js';

export const smokeCases: readonly SmokeCase[] = [
  ...matmulCases,
  ...convCases,
  ...batchNormCases,
  ...elementwiseCases,
  ...poolingCases,
  ...lossCases,
  ...classificationCases,
  ...optimizerCases,
];
