/** A kernel is one .wgsl file; its uniform layout is read from the file's `struct Params`. */
import { readShaderText } from './shaderText.js';
import { parseUniformLayout, type UniformLayout } from './uniforms.js';

export class Kernel {
  private source?: string;
  private layout?: UniformLayout | null;

  constructor(
    /** Used in every error message and in the pipeline cache key. */
    readonly name: string,
    readonly url: URL,
    inlineSource?: string,
  ) {
    if (inlineSource !== undefined) this.source = inlineSource;
  }

  get wgsl(): string {
    this.source ??= readShaderText(this.url);
    return this.source;
  }

  /** The kernel's uniform layout, or null when it declares no `struct Params`. */
  get uniformLayout(): UniformLayout | null {
    if (this.layout === undefined) {
      this.layout = /struct\s+Params\b/.test(this.wgsl) ? parseUniformLayout(this.wgsl, 'Params') : null;
    }
    return this.layout;
  }
}

/** Declares a kernel whose WGSL file sits beside the calling module: `defineKernel('matmul', import.meta.url)`. */
export function defineKernel(name: string, moduleUrl: string, file = `${name}.wgsl`): Kernel {
  return new Kernel(name, new URL(file, moduleUrl));
}

/** A kernel whose WGSL is given as text (probes, outside harnesses, tests of the error paths). */
export function defineKernelFromSource(name: string, wgsl: string): Kernel {
  return new Kernel(name, new URL(`inline:${encodeURIComponent(name)}.wgsl`), wgsl);
}
