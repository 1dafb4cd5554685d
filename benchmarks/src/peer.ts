/**
 * What both benchmark suites share: TensorFlow.js's WebGPU backend on the very adapter graft uses
 * (the peer must run on the same device to make ratios mean anything), and the commit being measured.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { gpuInstanceOf, type Gpu } from '@graft/kernels';
import type * as tfjs from '@tensorflow/tfjs';

export type TfAll = typeof tfjs;

const here = fileURLToPath(new URL('.', import.meta.url));

/** tfjs (the union package: core ops, layers, and the gradients the Node build of core lacks) on `gpu`'s adapter. */
export async function loadTfjsWebgpu(gpu: Gpu): Promise<TfAll> {
  const instance = gpu.adapter ? gpuInstanceOf(gpu.adapter) : undefined;
  if (!instance) throw new Error('no GPU instance to hand to TensorFlow.js');
  // The webgpu backend finds the GPU through navigator.gpu, and registers itself on import only when it exists.
  if (!(globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: instance }, configurable: true, writable: true });
  }
  const tf = (await import('@tensorflow/tfjs')) as TfAll;
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error("tf.setBackend('webgpu') failed");
  await tf.ready();
  return tf;
}

/** The short commit of the checkout being measured, or null outside git. */
export function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: here, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}
