/**
 * Parameter initialisation as PyTorch's defaults: Conv2d and Linear weights and biases uniform in
 * ±1/sqrt(fan_in) (kaiming_uniform_ with a = sqrt(5) works out to exactly that bound). Seeded, so
 * the same seed gives the same model on every run.
 */
import type { Gpu, Shape } from '@graft/kernels';
import { tensor } from '../create.js';
import type { Tensor } from '../tensor.js';

/** mulberry32: a small, fast, well-mixed 32-bit generator. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeds for layers built without one: distinct per layer, the same sequence in every run. */
let nextDefaultSeed = 1;
export function defaultSeed(): number {
  return nextDefaultSeed++;
}

/**
 * Restarts the default seeds (torch.manual_seed's role): models built after manualSeed(s) get the same
 * initial weights whatever was built before in the process. Distinct s give disjoint seed sequences
 * for up to a million layers each.
 */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`manualSeed: expected a non-negative integer, got ${seed}`);
  nextDefaultSeed = 1 + seed * 1_000_000;
}

/** A trainable leaf with values uniform in [-bound, bound]. */
export function uniformParameter(gpu: Gpu, shape: Shape, bound: number, random: () => number): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = (2 * random() - 1) * bound;
  return tensor(gpu, data, shape, { requiresGrad: true });
}

/** A leaf filled with `value`. */
export function constant(gpu: Gpu, shape: Shape, value: number, requiresGrad: boolean): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tensor(gpu, new Float32Array(size).fill(value), shape, { requiresGrad });
}
