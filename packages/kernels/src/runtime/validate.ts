/** Argument checks every launcher runs before dispatch; each failure names kernel, argument, expected and found. */
import { KernelArgumentError } from './errors.js';
import { shapeToString, type DType, type GpuTensor, type Shape } from './tensor.js';

export function expectRank(kernel: string, name: string, t: { shape: Shape }, rank: number, meaning?: string): void {
  if (t.shape.length !== rank) {
    throw new KernelArgumentError(kernel, name, `rank ${rank}${meaning ? ` (${meaning})` : ''}`, `rank ${t.shape.length} ${shapeToString(t.shape)}`);
  }
}

/** `expected` may hold -1 for "any size" in a dimension. */
export function expectShape(kernel: string, name: string, t: { shape: Shape }, expected: Shape, meaning?: string): void {
  const ok = t.shape.length === expected.length && expected.every((d, i) => d === -1 || d === t.shape[i]);
  if (!ok) {
    const shown = `[${expected.map((d) => (d === -1 ? '*' : String(d))).join(', ')}]`;
    throw new KernelArgumentError(kernel, name, `shape ${shown}${meaning ? ` (${meaning})` : ''}`, shapeToString(t.shape));
  }
}

export function expectDType(kernel: string, name: string, t: GpuTensor, dtype: DType): void {
  if (t.dtype !== dtype) throw new KernelArgumentError(kernel, name, `dtype ${dtype}`, `dtype ${t.dtype}`);
}

export function expectPositiveInt(kernel: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new KernelArgumentError(kernel, name, 'a positive integer', String(value));
}

export function expectNonNegativeInt(kernel: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) throw new KernelArgumentError(kernel, name, 'a non-negative integer', String(value));
}

export function expectFinite(kernel: string, name: string, value: number): void {
  if (!Number.isFinite(value)) throw new KernelArgumentError(kernel, name, 'a finite number', String(value));
}

export function expectOneOf<T extends string>(kernel: string, name: string, value: string, allowed: readonly T[]): asserts value is T {
  if (!allowed.includes(value as T)) throw new KernelArgumentError(kernel, name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, `'${value}'`);
}

/** Fused activations a producing kernel can apply to its output. The numbers are the WGSL encoding. */
export const activationCodes = { none: 0, relu: 1, relu6: 2 } as const;
export type Activation = keyof typeof activationCodes;
export const activations = Object.keys(activationCodes) as Activation[];

export function activationCode(kernel: string, activation: string | undefined): number {
  const value = activation ?? 'none';
  expectOneOf(kernel, 'activation', value, activations);
  return activationCodes[value];
}

/** Workgroups needed to cover `count` items with `perGroup` items each. */
export function groupsFor(count: number, perGroup: number): number {
  return Math.ceil(count / perGroup);
}
