/** Deterministic input data for benchmark cases (values in [-1, 1)); timing does not depend on them. */
export function uniformData(seed: number, length: number): Float32Array {
  const out = new Float32Array(length);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    // xorshift32: fast, and good enough for inputs whose only job is to be finite and non-trivial.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = (state >>> 0) / 2 ** 31 - 1;
  }
  return out;
}
