/** Seeded random data for tests: the same seed gives the same tensor on every machine. */

/** mulberry32: a small, fast PRNG with good enough statistics for test data. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [lo, hi), as float32. */
export function randomArray(seed: number, length: number, lo = -1, hi = 1): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = lo + (hi - lo) * next();
  return out;
}

export function randomTensor(seed: number, shape: readonly number[], lo = -1, hi = 1): { data: Float32Array; shape: readonly number[] } {
  const length = shape.reduce((a, b) => a * b, 1);
  return { data: randomArray(seed, length, lo, hi), shape };
}

/** Integer labels in [0, classes). */
export function randomLabels(seed: number, length: number, classes: number): Uint32Array {
  const next = rng(seed);
  const out = new Uint32Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(next() * classes);
  return out;
}
