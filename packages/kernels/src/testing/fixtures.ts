/**
 * Golden cases computed by PyTorch (tools/fixtures/*.py, Debian's python3-torch): forward outputs
 * and gradients of small problems, already transposed to graft's layouts (NHWC activations, HWIO
 * conv weights) by the script, so tests compare like with like. PyTorch is never a runtime dependency.
 */
import { readFileSync } from 'node:fs';

export interface FixtureTensor {
  shape: number[];
  data: number[];
}

export interface FixtureCase {
  name: string;
  attrs: Record<string, unknown>;
  inputs: Record<string, FixtureTensor>;
  outputs: Record<string, FixtureTensor>;
}

export interface FixtureFile {
  generator: string;
  torch: string;
  cases: FixtureCase[];
}

/** Loads packages/kernels/fixtures/<name>.json. */
export function loadFixture(name: string): FixtureFile {
  const url = new URL(`../../fixtures/${name}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as FixtureFile;
}

export function hostTensor(t: FixtureTensor): { data: Float32Array; shape: readonly number[] } {
  return { data: Float32Array.from(t.data), shape: t.shape };
}
