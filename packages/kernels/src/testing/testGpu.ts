/**
 * The GPU shared by a test file. There is no skip path: if no adapter can be had the suite fails
 * with the device layer's message saying why and what to install.
 */
import { createGpu, type Gpu } from '../runtime/gpu.js';

let shared: Promise<Gpu> | undefined;

export function testGpu(): Promise<Gpu> {
  shared ??= createGpu();
  return shared;
}
