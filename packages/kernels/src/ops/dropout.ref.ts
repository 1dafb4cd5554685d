/**
 * Reference for seeded inverted dropout, written from the hash's definition in docs/kernels/dropout.md
 * (the hash is the spec: this file and dropout.wgsl implement the same written formula).
 *
 *   pcg(v):  s = v * 747796405 + 2891336453             (all arithmetic mod 2^32)
 *            w = ((s >> ((s >> 28) + 4)) ^ s) * 277803737
 *            return (w >> 22) ^ w
 *   bits(seed, i) = pcg(pcg(i) ^ pcg(seed))
 *   keep(seed, i) = bits(seed, i) >= floor(p * 2^32)      (probability 1 - p, to within 2^-32)
 *   y[i] = keep ? x[i] / (1 - p) : 0                        (dx uses the same mask on dy)
 */

/** The PCG output hash (Jarzynski & Olano 2020, "Hash Functions for GPU Rendering") on a u32. */
export function pcgHash(v: number): number {
  const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

export function dropoutBits(seed: number, i: number): number {
  return pcgHash((pcgHash(i) ^ pcgHash(seed)) >>> 0);
}

/** The u32 threshold below which an element is dropped. */
export function dropoutThreshold(p: number): number {
  return Math.floor(p * 2 ** 32);
}

/** 1 where element i is kept, 0 where dropped. */
export function dropoutMaskRef(seed: number, size: number, p: number): Uint8Array {
  const threshold = dropoutThreshold(p);
  const mask = new Uint8Array(size);
  for (let i = 0; i < size; i++) mask[i] = dropoutBits(seed, i) >= threshold ? 1 : 0;
  return mask;
}

/** y = x * mask / (1 - p). The backward is the same function applied to dy. */
export function dropoutRef(x: ArrayLike<number>, seed: number, p: number): Float64Array {
  const mask = dropoutMaskRef(seed, x.length, p);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = mask[i] ? x[i]! / (1 - p) : 0;
  return y;
}
