import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../runtime/gpu.js';
import { KernelArgumentError } from '../runtime/errors.js';
import { expectClose, randomTensor, testGpu } from '../testing/index.js';
import { dropout, dropoutBackwardHost, dropoutHost } from './dropout.js';
import { dropoutBits, dropoutMaskRef, dropoutRef, pcgHash } from './dropout.ref.js';

// y is x * f32(1 / (1 - p)) or exactly 0: one rounding of the scale and one of the product.
const tolerance = { rtol: 3e-7, atol: 0 };

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

/** Inputs with no zeros, so a zero output means exactly "dropped". */
const nonZero = (seed: number, size: number) => randomTensor(seed, [size], 0.5, 1.5);

const keptMask = (y: ArrayLike<number>): number[] => Array.from(y, (v) => (v !== 0 ? 1 : 0));

describe('dropout hash (the spec in docs/kernels/dropout.md)', () => {
  it('matches values computed from the written formula in Python (arbitrary-precision ints, mod 2^32)', () => {
    // python3: s = (v*747796405 + 2891336453) % 2**32; w = (((s >> ((s >> 28) + 4)) ^ s) * 277803737) % 2**32; (w >> 22) ^ w
    expect([pcgHash(0), pcgHash(1), pcgHash(0xffffffff)]).toEqual([129708002, 2831084092, 3861530882]);
    expect([0, 1, 2, 3].map((i) => dropoutBits(42, i))).toEqual([1863258358, 1677403428, 3094255349, 4016280834]);
  });
});

describe('dropout kernel', () => {
  for (const [size, p, seed] of [[1, 0.5, 3], [7, 0.3, 1], [1280 * 8, 0.2, 42], [1001, 0.9, 0xffffffff]] as const) {
    it(`size ${size}, p ${p}, seed ${seed}: matches the reference hash`, async () => {
      const x = randomTensor(size, [size]);
      const got = await dropoutHost(gpu, x, p, seed);
      expect(got.shape).toEqual([size]);
      expectClose(got.data, dropoutRef(x.data, seed, p), tolerance);
    });
  }

  it('p = 0 is the identity', async () => {
    const x = randomTensor(2, [3, 5]);
    const got = await dropoutHost(gpu, x, 0, 7);
    expect(got.shape).toEqual([3, 5]);
    expect(Array.from(got.data)).toEqual(Array.from(x.data));
  });

  it('same seed gives the same mask, a different seed a different one', async () => {
    const x = nonZero(3, 4096);
    const a = keptMask((await dropoutHost(gpu, x, 0.5, 11)).data);
    const b = keptMask((await dropoutHost(gpu, x, 0.5, 11)).data);
    const c = keptMask((await dropoutHost(gpu, x, 0.5, 12)).data);
    expect(a).toEqual(b);
    // Independent masks at p = 0.5 agree on 2048 +- 32 (1 sigma) of 4096 elements; identical or strongly
    // correlated masks would agree on far more, so require agreement within 5 sigma of independence.
    const agree = a.reduce((sum, v, i) => sum + (v === c[i] ? 1 : 0), 0);
    expect(Math.abs(agree - 2048)).toBeLessThan(5 * 32);
  });

  for (const p of [0.1, 0.5, 0.8]) {
    it(`keep rate 1 - p = ${1 - p} within 5 binomial sigma on 2^18 elements`, async () => {
      const size = 1 << 18;
      const x = nonZero(4, size);
      const kept = keptMask((await dropoutHost(gpu, x, p, 2024)).data).reduce((s, v) => s + v, 0);
      const sigma = Math.sqrt(size * p * (1 - p)); // ~ 150-256 elements
      expect(Math.abs(kept - size * (1 - p))).toBeLessThan(5 * sigma);
      // Also the reference's own count, so the bound tests the hash and not only the kernel.
      const refKept = dropoutMaskRef(2024, size, p).reduce((s, v) => s + v, 0);
      expect(refKept).toBe(kept);
    });
  }

  it('backward applies the forward mask (same seed) with the same scale', async () => {
    const size = 3001;
    const x = nonZero(5, size);
    const dy = nonZero(6, size);
    const y = await dropoutHost(gpu, x, 0.35, 99);
    const dx = await dropoutBackwardHost(gpu, dy, 0.35, 99);
    expect(keptMask(dx.data)).toEqual(keptMask(y.data));
    // dx / dy = y / x = 1 / (1 - p) where kept.
    for (let i = 0; i < size; i++) if (y.data[i] !== 0) expect(Math.abs(dx.data[i]! / dy.data[i]! - 1 / 0.65)).toBeLessThan(1e-6);
    expectClose(dx.data, dropoutRef(dy.data, 99, 0.35), tolerance);
  });

  it('rejects p outside [0, 1) and bad seeds before dispatch', () => {
    const x = gpu.allocate([4]);
    for (const p of [-0.1, 1, 1.5, NaN]) expect(() => dropout(gpu, x, p, 1)).toThrow(KernelArgumentError);
    expect(() => dropout(gpu, x, 1, 1)).toThrow(/dropout: argument 'p' expected a drop probability in \[0, 1\), found 1/);
    for (const seed of [-1, 1.5, 2 ** 32]) expect(() => dropout(gpu, x, 0.5, seed)).toThrow(/'seed' expected a u32/);
    gpu.release(x);
  });
});
