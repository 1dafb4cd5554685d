import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { expectClose, finiteDifferenceTolerance, numericGradient, randomTensor, testGpu } from '../testing/index.js';
import { matmul, matmulBackwardHost, matmulHost } from './matmul.js';
import { matmulBackwardRef, matmulRef } from './matmul.ref.js';

// f32 sums of K products of values in [-1, 1]: rounding error grows like K * 2^-24 ~ 6e-6 at K = 100.
const forwardTolerance = { rtol: 1e-5, atol: 3e-5 };

const shapes: [m: number, n: number, k: number][] = [
  [1, 1, 1],
  [1, 7, 3],
  [5, 3, 9],
  [33, 17, 65], // partial tiles in both directions
  [3, 130, 5],
  [64, 64, 64],
  [37, 20, 19], // N % 4 == 0 (vec4 loads of B) with partial row and column tiles
  [19, 548, 6], // two column groups of 32 invocations x 16 columns, the second partial
  // M >= 64 with N % 4 == 0: a transposed B is first transposed into scratch memory (matmul.ts)
  [70, 20, 13], // K odd: the element-wise transpose
  [129, 36, 8], // whole 4 x 4 blocks; partial row tile
  [64, 6, 12], // N % 4 != 0 keeps the scalar transB path
  // N <= 32 with N % 4 == 0 and B not transposed: main_narrow (one vec4 of columns per lane)
  [1, 4, 3], // batch-1 row, one lane
  [23, 28, 7], // partial row tile, 7 of 8 lanes
  [9, 32, 1], // K = 1, every lane
];
const transposes = [
  { transA: false, transB: false },
  { transA: true, transB: false },
  { transA: false, transB: true },
  { transA: true, transB: true },
];

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

function operands(m: number, n: number, k: number, transA: boolean, transB: boolean, seed: number) {
  const a = randomTensor(seed, transA ? [k, m] : [m, k]);
  const b = randomTensor(seed + 1, transB ? [n, k] : [k, n]);
  const bias = randomTensor(seed + 2, [n]);
  return { a, b, bias };
}

describe('matmul forward vs reference', () => {
  for (const [m, n, k] of shapes) {
    for (const t of transposes) {
      it(`${m}x${n}x${k} transA=${t.transA} transB=${t.transB}`, async () => {
        const { a, b, bias } = operands(m, n, k, t.transA, t.transB, m * 31 + n * 7 + k);
        const got = await matmulHost(gpu, a, b, t);
        expect(got.shape).toEqual([m, n]);
        expectClose(got.data, matmulRef(a.data, b.data, undefined, m, n, k, t), forwardTolerance);
      });
    }
  }

  // n = 11 takes the scalar path for B, n = 20 main_narrow (N <= 32); main_vec4 with a bias is covered below (m = 65).
  for (const [activation, n] of [['relu', 11], ['relu6', 11], ['relu', 20], ['relu6', 20]] as const) {
    it(`fused bias + ${activation} (n = ${n})`, async () => {
      const [m, k] = [9, 13];
      const a = randomTensor(1, [m, k], -3, 3);
      const b = randomTensor(2, [k, n], -3, 3);
      const bias = randomTensor(3, [n]);
      const got = await matmulHost(gpu, a, b, { bias, activation });
      const want = matmulRef(a.data, b.data, bias.data, m, n, k, { activation });
      expect(want.some((v) => v === 0) && want.some((v) => v > 0)).toBe(true);
      if (activation === 'relu6') expect(want.some((v) => v === 6)).toBe(true);
      expectClose(got.data, want, forwardTolerance);
    });
  }

  it('fused bias + relu6 with a transposed B copied to scratch (m = 65)', async () => {
    const [m, n, k] = [65, 12, 10];
    const a = randomTensor(4, [m, k], -3, 3);
    const b = randomTensor(5, [n, k], -3, 3);
    const bias = randomTensor(6, [n]);
    const got = await matmulHost(gpu, a, b, { transB: true, bias, activation: 'relu6' });
    const want = matmulRef(a.data, b.data, bias.data, m, n, k, { transB: true, activation: 'relu6' });
    expect(want.some((v) => v === 0) && want.some((v) => v === 6)).toBe(true);
    expectClose(got.data, want, forwardTolerance);
  });

  it('the scratch copy of B goes back to the pool', async () => {
    const a = gpu.upload(randomTensor(7, [64, 8]).data, [64, 8]);
    const b = gpu.upload(randomTensor(8, [8, 8]).data, [8, 8]);
    gpu.release(matmul(gpu, a, b, { transB: true }));
    await gpu.sync();
    const before = gpu.memory();
    for (let i = 0; i < 3; i++) gpu.release(matmul(gpu, a, b, { transB: true }));
    await gpu.sync();
    expect(gpu.memory()).toEqual(before);
    gpu.release(a, b);
  });

  it('more row blocks than one grid dimension holds (rows continue in z)', async () => {
    const maxGroups = gpu.limits.maxComputeWorkgroupsPerDimension;
    const m = maxGroups * 8 + 13; // 8 rows per workgroup
    const a = randomTensor(21, [m, 1]);
    const b = randomTensor(22, [1, 2]);
    const got = await matmulHost(gpu, a, b);
    expectClose(got.data, matmulRef(a.data, b.data, undefined, m, 2, 1), forwardTolerance);
  });
});

describe('matmul backward', () => {
  for (const t of transposes) {
    it(`reference gradient matches finite differences (transA=${t.transA} transB=${t.transB})`, () => {
      const [m, n, k] = [3, 4, 5];
      const { a, b } = operands(m, n, k, t.transA, t.transB, 5);
      const dc = randomTensor(9, [m, n]).data;
      const analytic = matmulBackwardRef(dc, a.data, b.data, m, n, k, t);
      const numericA = numericGradient((x) => matmulRef(x, b.data, undefined, m, n, k, t), a.data, dc);
      const numericB = numericGradient((x) => matmulRef(a.data, x, undefined, m, n, k, t), b.data, dc);
      expectClose(analytic.da, numericA, finiteDifferenceTolerance, 'dA');
      expectClose(analytic.db, numericB, finiteDifferenceTolerance, 'dB');
    });

    for (const [m, n, k] of [[1, 5, 3], [17, 6, 35], [40, 33, 9], [66, 8, 12]] as const) {
      it(`kernel gradients match the reference ${m}x${n}x${k} transA=${t.transA} transB=${t.transB}`, async () => {
        const { a, b } = operands(m, n, k, t.transA, t.transB, 11);
        const dc = randomTensor(12, [m, n]);
        const got = await matmulBackwardHost(gpu, dc, a, b, t);
        const want = matmulBackwardRef(dc.data, a.data, b.data, m, n, k, t);
        expect(got.da!.shape).toEqual(a.shape);
        expect(got.db!.shape).toEqual(b.shape);
        // Each gradient element sums M, N or K products; the largest here is 66 terms.
        expectClose(got.da!.data, want.da, forwardTolerance, 'dA');
        expectClose(got.db!.data, want.db, forwardTolerance, 'dB');
        expectClose(got.dbias!.data, want.dbias, forwardTolerance, 'dbias');
      });
    }
  }
});

describe('matmul rejects bad arguments before dispatch', () => {
  it('inner dimensions that disagree', () => {
    const a = gpu.allocate([4, 5]);
    const b = gpu.allocate([6, 3]);
    expect(() => matmul(gpu, a, b)).toThrow(KernelArgumentError);
    expect(() => matmul(gpu, a, b)).toThrow(/matmul: argument 'b' expected shape \[5, 3\].*found \[6, 3\]/);
    gpu.release(a, b);
  });

  it('wrong rank and wrong bias length', () => {
    const a = gpu.allocate([2, 3, 4]);
    const b = gpu.allocate([4, 2]);
    const bias = gpu.allocate([3]);
    expect(() => matmul(gpu, a, b)).toThrow(/argument 'a' expected rank 2/);
    const a2 = gpu.allocate([3, 4]);
    expect(() => matmul(gpu, a2, b, { bias })).toThrow(/argument 'bias' expected shape \[2\]/);
    expect(() => matmul(gpu, a2, b, { activation: 'gelu' as never })).toThrow(/activation/);
    gpu.release(a, b, bias, a2);
  });
});
