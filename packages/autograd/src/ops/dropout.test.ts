import { createGpu, dropoutBackwardHost, type Gpu } from '@graft/kernels';
import { randomArray } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensor } from '../create.js';
import { AutogradError } from '../errors.js';
import { backward } from '../tape.js';
import { mul } from './elementwise.js';
import { sumAllOp } from './reduce.js';
import { dropout } from './dropout.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await createGpu();
});

/**
 * The mask from its written spec (docs/kernels/dropout.md), independently of the kernel and of
 * kernels' dropout.ref.ts (which this package cannot import): keep[i] = pcg(pcg(i) ^ pcg(seed)) >= floor(p 2^32).
 */
function pcg(v: number): number {
  const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}
function maskFromSpec(seed: number, size: number, p: number): Uint8Array {
  const threshold = Math.floor(p * 2 ** 32);
  return Uint8Array.from({ length: size }, (_, i) => (pcg((pcg(i) ^ pcg(seed)) >>> 0) >= threshold ? 1 : 0));
}

describe('dropout', () => {
  it('the spec reimplementation matches the documented check values', () => {
    expect([pcg(0), pcg(1), pcg(0xffffffff)]).toEqual([129708002, 2831084092, 3861530882]);
  });

  it('the gradient is exactly mask / (1 - p) · dy, with the forward mask regenerated from the seed', async () => {
    const shape = [3, 37]; // odd size: the kernel's 4-element tail
    const [p, seed] = [0.3, 123456789];
    const size = 3 * 37;
    const xData = randomArray(1, size);
    const dyData = randomArray(2, size);
    const x = tensor(gpu, xData, shape, { requiresGrad: true });
    const y = dropout(x, p, seed, true);
    const yData = await y.read();
    const dy = tensor(gpu, dyData, shape);
    backward(y, dy);
    dy.release();
    const dx = await x.grad!.read();

    // Exact in f32: one product with the kernel's f32 scale, or 0.
    const mask = maskFromSpec(seed, size, p);
    const scale = Math.fround(1 / (1 - p));
    const kept = mask.reduce((a, b) => a + b, 0);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(size);
    expect(Array.from(dx)).toEqual(Array.from(dyData, (g, i) => (mask[i] ? Math.fround(g * scale) : 0)));
    // The forward used the same mask.
    expect(Array.from(yData)).toEqual(Array.from(xData, (v, i) => (mask[i] ? Math.fround(v * scale) : 0)));
    // And the kernel's own backward, run on its own, agrees to the bit.
    const kernelDx = await dropoutBackwardHost(gpu, { data: dyData, shape }, p, seed);
    expect(Array.from(dx)).toEqual(Array.from(kernelDx.data));
    y.release();
    x.release();
  });

  it('same seed, same mask; another seed, another mask', async () => {
    const x = tensor(gpu, randomArray(3, 256, 0.5, 1), [256]); // nonzero: dropped elements are visible
    const read = async (seed: number) => {
      const y = dropout(x, 0.5, seed, true);
      const values = await y.read();
      y.release();
      return Array.from(values, (v) => (v === 0 ? 0 : 1));
    };
    const first = await read(7);
    expect(await read(7)).toEqual(first);
    expect(await read(8)).not.toEqual(first);
    expect(first).toEqual(Array.from(maskFromSpec(7, 256, 0.5)));
    x.release();
  });

  it('is the identity (x itself, nothing recorded) when not training or p = 0; gradients still flow, memory stays flat', async () => {
    const x = tensor(gpu, [1, 2, 3], [3], { requiresGrad: true });
    expect(dropout(x, 0.5, 1, false)).toBe(x);
    expect(dropout(x, 0, 1, true)).toBe(x);
    // Through an intermediate: the graph frees h once (no second tensor wraps its buffer).
    const step = async () => {
      const h = mul(x, x);
      const loss = sumAllOp(dropout(h, 0.5, 1, false));
      backward(loss);
      expect(h.released).toBe(true);
      loss.release();
      expect(Array.from(await x.grad!.read())).toEqual([2, 4, 6]);
      x.grad!.release();
      x.grad = null;
    };
    await step();
    await gpu.sync();
    const before = gpu.memory().bytesInUse;
    for (let i = 0; i < 3; i++) await step();
    await gpu.sync();
    expect(gpu.memory().bytesInUse).toBe(before);
    x.release();
  });

  it('rejects p outside [0, 1) and seeds that are not u32, even when it would be the identity', () => {
    const x = tensor(gpu, [1, 2], [2]);
    expect(() => dropout(x, 1, 0, true)).toThrow(AutogradError);
    expect(() => dropout(x, -0.1, 0, false)).toThrow(/\[0, 1\)/);
    expect(() => dropout(x, 0.5, 2 ** 32, true)).toThrow(/u32/);
    expect(() => dropout(x, 0.5, 1.5, false)).toThrow(/u32/);
    x.release();
  });
});
