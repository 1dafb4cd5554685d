/** Errors graft raises before or instead of dispatching GPU work. Each names what was wrong and where. */

/** A kernel was called with an argument of the wrong rank, shape, dtype or value. Thrown before dispatch. */
export class KernelArgumentError extends Error {
  constructor(
    readonly kernel: string,
    readonly argument: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`${kernel}: argument '${argument}' expected ${expected}, found ${found}`);
    this.name = 'KernelArgumentError';
  }
}

/** A WGSL shader failed to compile or validate; names the kernel and the offending WGSL line(s). */
export class ShaderCompileError extends Error {
  constructor(
    readonly kernel: string,
    readonly messages: readonly { line: number; column: number; message: string; sourceLine: string }[],
    detail: string,
  ) {
    const where = messages.map((m) => `  ${kernel}.wgsl:${m.line}:${m.column}: ${m.message}\n    ${m.sourceLine.trim()}`);
    super(`WGSL kernel '${kernel}' failed to compile:\n${where.join('\n') || '  ' + detail}`);
    this.name = 'ShaderCompileError';
  }
}

/** The device reported a validation or out-of-memory error for work graft encoded. */
export class GpuValidationError extends Error {
  constructor(readonly kernels: readonly string[], message: string) {
    super(`GPU rejected work from kernel(s) ${kernels.join(', ') || '(none)'}: ${message}`);
    this.name = 'GpuValidationError';
  }
}

/** No WebGPU adapter could be had; the message says why and what to install. */
export class NoAdapterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoAdapterError';
  }
}

/** A tensor does not fit what the device can bind or dispatch in one go. */
export class DeviceLimitError extends Error {
  constructor(kernel: string, what: string, size: number, limit: number) {
    super(`${kernel}: ${what} is ${size}, past the device limit of ${limit}`);
    this.name = 'DeviceLimitError';
  }
}
