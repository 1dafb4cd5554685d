/**
 * Runs `body` with the device's per-dimension workgroup limit lowered, as launchers (and
 * gpu.dispatch's check) see it: the folded 2-D/3-D dispatch paths, normally reached only by
 * tensors of millions of rows, then run on test-sized data.
 */
import type { Gpu } from '../runtime/gpu.js';

export async function withWorkgroupLimit<T>(gpu: Gpu, limit: number, body: () => Promise<T>): Promise<T> {
  const lowered = new Proxy(gpu.device.limits, {
    get: (target, key) => (key === 'maxComputeWorkgroupsPerDimension' ? limit : (target as never)[key]),
  });
  Object.defineProperty(gpu, 'limits', { value: lowered, configurable: true });
  try {
    return await body();
  } finally {
    delete (gpu as { limits?: unknown }).limits;
  }
}
