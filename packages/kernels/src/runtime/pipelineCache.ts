/**
 * Compute pipelines cached by kernel + entry point + override constants: never by tensor sizes,
 * which travel in uniforms. Compilation errors are caught in an error scope and turned into a
 * ShaderCompileError naming the kernel and the WGSL line; the check resolves asynchronously and
 * is awaited at the next sync point (Gpu.sync / Gpu.read), so no result computed by a broken
 * pipeline is ever handed back.
 */
import { ShaderCompileError } from './errors.js';
import type { Kernel } from './kernel.js';

export type OverrideConstants = Readonly<Record<string, number>>;

export interface CachedPipeline {
  pipeline: GPUComputePipeline;
  /** Resolves when the pipeline is known good; rejects with ShaderCompileError otherwise. */
  ready: Promise<void>;
}

function cacheKey(kernel: Kernel, entryPoint: string, overrides: OverrideConstants | undefined): string {
  if (!overrides) return `${kernel.name}:${entryPoint}`;
  const keys = Object.keys(overrides).sort();
  return `${kernel.name}:${entryPoint}:${keys.map((k) => `${k}=${overrides[k]}`).join(',')}`;
}

export async function compilationError(kernel: Kernel, module: GPUShaderModule, detail: string): Promise<ShaderCompileError> {
  const info = await module.getCompilationInfo();
  const sourceLines = kernel.wgsl.split('\n');
  const messages = info.messages
    .filter((m) => m.type === 'error')
    .map((m) => ({ line: m.lineNum, column: m.linePos, message: m.message, sourceLine: sourceLines[m.lineNum - 1] ?? '' }));
  return new ShaderCompileError(kernel.name, messages, detail);
}

export class PipelineCache {
  private readonly pipelines = new Map<string, CachedPipeline>();

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.pipelines.size;
  }

  get(kernel: Kernel, entryPoint = 'main', overrides?: OverrideConstants): CachedPipeline {
    const key = cacheKey(kernel, entryPoint, overrides);
    let cached = this.pipelines.get(key);
    if (!cached) {
      cached = this.create(kernel, entryPoint, overrides);
      this.pipelines.set(key, cached);
    }
    return cached;
  }

  private create(kernel: Kernel, entryPoint: string, overrides: OverrideConstants | undefined): CachedPipeline {
    const device = this.device;
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: kernel.wgsl, label: kernel.name });
    const pipeline = device.createComputePipeline({
      label: kernel.name,
      layout: 'auto',
      compute: { module, entryPoint, ...(overrides ? { constants: { ...overrides } } : {}) },
    });
    const ready = device.popErrorScope().then(async (error) => {
      if (error) throw await compilationError(kernel, module, error.message);
    });
    // Observed by Gpu.sync(); this keeps Node from reporting it as unhandled in the meantime.
    ready.catch(() => {});
    return { pipeline, ready };
  }
}
