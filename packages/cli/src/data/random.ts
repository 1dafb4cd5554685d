/**
 * Counter-based randomness for the data pipeline. Every draw is a pure function of its keys
 * (seed, epoch, sample index, purpose), never of a shared generator's state, so any sample of any
 * epoch can be reproduced whatever the worker scheduling and wherever a run resumed.
 */

/** What a stream is for, mixed into its keys so splitting, shuffling and augmenting never share draws. */
export const streams = { split: 1, shuffle: 2, augment: 3 } as const;

/** murmur3's 32-bit finaliser: a cheap bijective mix in which every input bit flips half the output bits. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes integer keys into one 32-bit seed; keys beyond 32 bits contribute their high word too. */
export function hashKeys(...keys: number[]): number {
  let h = 0x9e3779b9;
  for (const key of keys) {
    const k = Math.trunc(key);
    h = fmix32(h ^ fmix32(k >>> 0));
    h = fmix32(h ^ fmix32(Math.floor(k / 2 ** 32) >>> 0));
  }
  return h;
}

/**
 * mulberry32: a tiny 32-bit generator, plenty for augmentation draws; uniform in [0, 1). The same as
 * autograd's seededRandom, repeated here so the decode workers import nothing but this folder.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A generator keyed by (purpose, seed, ...more keys). */
export function randomFor(...keys: number[]): () => number {
  return mulberry32(hashKeys(...keys));
}

/** Fisher-Yates shuffle in place. */
export function shuffleInPlace<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
