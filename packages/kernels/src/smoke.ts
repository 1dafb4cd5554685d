/**
 * A quick end-to-end check of every kernel on the current adapter: each runs once on a small,
 * awkward shape and is compared with its plain-loop reference. `graft demo` prints the result;
 * the unit tests are the thorough version of the same comparison.
 */
import { matmulBackwardHost, matmulHost } from './ops/matmul.js';
import { matmulBackwardRef, matmulRef } from './ops/matmul.ref.js';
import { sumRowsHost } from './ops/sumRows.js';
import { sumRowsRef } from './ops/sumRows.ref.js';
import type { Gpu } from './runtime/gpu.js';
import { randomTensor } from './testing/random.js';

export interface SmokeResult {
  kernel: string;
  shape: string;
  maxError: number;
  tolerance: number;
  ok: boolean;
}

interface SmokeCase {
  kernel: string;
  shape: string;
  /** Absolute tolerance on the largest elementwise difference from the reference. */
  tolerance: number;
  run(gpu: Gpu): Promise<{ got: ArrayLike<number>; want: ArrayLike<number> }[]>;
}

function maxAbsDifference(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  return worst;
}

const cases: SmokeCase[] = [
  {
    kernel: 'matmul',
    shape: '[33, 65] x [65, 17] + bias, relu',
    tolerance: 1e-4,
    async run(gpu) {
      const a = randomTensor(1, [33, 65]);
      const b = randomTensor(2, [65, 17]);
      const bias = randomTensor(3, [17]);
      const got = await matmulHost(gpu, a, b, { bias, activation: 'relu' });
      return [{ got: got.data, want: matmulRef(a.data, b.data, bias.data, 33, 17, 65, { activation: 'relu' }) }];
    },
  },
  {
    kernel: 'matmul backward',
    shape: 'dA, dB, dbias of [9, 7] x [7, 5]ᵀ',
    tolerance: 1e-4,
    async run(gpu) {
      const a = randomTensor(4, [9, 7]);
      const b = randomTensor(5, [5, 7]);
      const dc = randomTensor(6, [9, 5]);
      const got = await matmulBackwardHost(gpu, dc, a, b, { transB: true });
      const want = matmulBackwardRef(dc.data, a.data, b.data, 9, 5, 7, { transB: true });
      return [
        { got: got.da!.data, want: want.da },
        { got: got.db!.data, want: want.db },
        { got: got.dbias!.data, want: want.dbias },
      ];
    },
  },
  {
    kernel: 'sumRows',
    shape: '[1001, 7] -> [7]',
    tolerance: 1e-3,
    async run(gpu) {
      const x = randomTensor(7, [1001, 7]);
      const got = await sumRowsHost(gpu, x, 7);
      return [{ got: got.data, want: sumRowsRef(x.data, 1001, 7) }];
    },
  },
];

export async function runKernelSmoke(gpu: Gpu, onResult?: (r: SmokeResult) => void): Promise<SmokeResult[]> {
  const results: SmokeResult[] = [];
  for (const c of cases) {
    const comparisons = await c.run(gpu);
    const maxError = Math.max(...comparisons.map(({ got, want }) => maxAbsDifference(got, want)));
    const result = { kernel: c.kernel, shape: c.shape, maxError, tolerance: c.tolerance, ok: maxError <= c.tolerance };
    results.push(result);
    onResult?.(result);
  }
  return results;
}
