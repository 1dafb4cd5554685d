/**
 * The execution context every kernel launcher works through: one device, a pipeline cache, a
 * buffer pool, and a command encoder that batches dispatches until something needs the results.
 * Launchers encode work synchronously; errors the device reports surface at the next sync point.
 */
import { acquireDevice, type DeviceOptions } from '../device/device.js';
import { BufferPool, type PoolStats } from './bufferPool.js';
import { DeviceLimitError, GpuValidationError, KernelArgumentError, ShaderCompileError } from './errors.js';
import type { Kernel } from './kernel.js';
import { PipelineCache, type OverrideConstants } from './pipelineCache.js';
import { installNodeShaderReader } from './shaderText.js';
import { GpuTensor, bytesPerElement, shapeToString, sizeOf, type DType, type Shape } from './tensor.js';
import { UniformArena } from './uniformArena.js';
import { packUniforms } from './uniforms.js';

export interface DispatchSpec {
  /** Storage tensors, bound at @binding(1), @binding(2), ... in this order (binding 0 is `params`). */
  bindings: readonly GpuTensor[];
  uniforms?: Readonly<Record<string, number>>;
  workgroups: readonly [number, number?, number?];
  entryPoint?: string;
  overrides?: OverrideConstants;
}

const storageUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export class Gpu {
  readonly pipelines: PipelineCache;
  readonly pool: BufferPool;
  /** Benchmarks set this to time each compute pass with timestamp queries; null in normal use. */
  passTimestamps: ((kernel: string, spec: DispatchSpec) => GPUComputePassTimestampWrites | undefined) | null = null;

  private readonly uniforms: UniformArena;
  private encoder: GPUCommandEncoder | null = null;
  private batchKernels: string[] = [];
  private pendingChecks = new Set<Promise<void>>();
  private placeholderTensor: GpuTensor | null = null;

  constructor(
    readonly device: GPUDevice,
    readonly adapter: GPUAdapter | null = null,
    readonly software = false,
  ) {
    this.pipelines = new PipelineCache(device);
    this.pool = new BufferPool(device, storageUsage());
    this.uniforms = new UniformArena(device);
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  // ---- tensors ---------------------------------------------------------------------------------

  /** A new tensor from the pool; its contents are undefined until a kernel or upload writes them. */
  allocate(shape: Shape, dtype: DType = 'f32'): GpuTensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 1) throw new KernelArgumentError('allocate', 'shape', 'positive integer dims', shapeToString(shape));
    }
    const byteLength = sizeOf(shape) * bytesPerElement[dtype];
    if (byteLength > this.limits.maxBufferSize) {
      throw new DeviceLimitError('allocate', `a ${shapeToString(shape)} ${dtype} tensor (bytes)`, byteLength, this.limits.maxBufferSize);
    }
    return new GpuTensor(this.pool.acquire(byteLength), shape, dtype);
  }

  /**
   * Returns tensors' buffers to the pool. Work already encoded that reads them is unaffected (the
   * queue runs in order). Releasing a view, or the same storage twice, throws: either would let two
   * live tensors share a buffer.
   */
  release(...tensors: (GpuTensor | undefined | null)[]): void {
    for (const t of tensors) {
      if (!t) continue;
      if (t.isView) {
        throw new KernelArgumentError('release', 'tensor', 'a tensor that owns its buffer', `a view ${shapeToString(t.shape)} at byte ${t.byteOffset} of storage owned elsewhere (release its owner)`);
      }
      this.pool.release(t.buffer);
    }
  }

  upload(data: Float32Array | Uint32Array | Int32Array, shape: Shape, dtype?: DType): GpuTensor {
    const type: DType = dtype ?? (data instanceof Uint32Array ? 'u32' : data instanceof Int32Array ? 'i32' : 'f32');
    if (data.length !== sizeOf(shape)) {
      throw new KernelArgumentError('upload', 'data', `${sizeOf(shape)} elements for shape ${shapeToString(shape)}`, `${data.length}`);
    }
    const tensor = this.allocate(shape, type);
    this.write(tensor, data);
    return tensor;
  }

  /** Overwrites a tensor's contents. Flushes first: a pooled buffer may still be read by encoded work. */
  write(tensor: GpuTensor, data: Float32Array | Uint32Array | Int32Array): void {
    if (data.length !== tensor.size) {
      throw new KernelArgumentError('write', 'data', `${tensor.size} elements`, `${data.length}`);
    }
    this.flush();
    this.device.queue.writeBuffer(tensor.buffer, tensor.byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /**
   * Copies an f32 tensor back to the host (flushes pending work first). Resolves once the copy is
   * done, after the error checks of the work submitted before it; errors of that work are thrown here.
   */
  async read(tensor: GpuTensor): Promise<Float32Array> {
    if (tensor.dtype !== 'f32') throw new KernelArgumentError('read', 'tensor', 'dtype f32 (use readUint32/readInt32)', `dtype ${tensor.dtype}`);
    return new Float32Array(await this.readBytes(tensor));
  }

  async readUint32(tensor: GpuTensor): Promise<Uint32Array> {
    if (tensor.dtype !== 'u32') throw new KernelArgumentError('readUint32', 'tensor', 'dtype u32', `dtype ${tensor.dtype}`);
    return new Uint32Array(await this.readBytes(tensor));
  }

  async readInt32(tensor: GpuTensor): Promise<Int32Array> {
    if (tensor.dtype !== 'i32') throw new KernelArgumentError('readInt32', 'tensor', 'dtype i32', `dtype ${tensor.dtype}`);
    return new Int32Array(await this.readBytes(tensor));
  }

  private async readBytes(tensor: GpuTensor): Promise<ArrayBuffer> {
    const staging = this.device.createBuffer({ size: tensor.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.commandEncoder().copyBufferToBuffer(tensor.buffer, tensor.byteOffset, staging, 0, tensor.byteLength);
    this.flush();
    // The error checks of every submission up to this copy: work submitted after it (a training
    // loop encodes the next step before awaiting this read) does not hold the read up.
    const checks = [...this.pendingChecks];
    try {
      await staging.mapAsync(GPUMapMode.READ);
      await this.settle(checks);
      const bytes = staging.getMappedRange().slice(0);
      staging.unmap();
      return bytes;
    } finally {
      staging.destroy();
    }
  }

  // ---- dispatch --------------------------------------------------------------------------------

  /** Encodes one dispatch of `kernel`. Validates device limits; shape checks are the launcher's job. */
  dispatch(kernel: Kernel, spec: DispatchSpec): void {
    const [x, y = 1, z = 1] = spec.workgroups;
    const maxGroups = this.limits.maxComputeWorkgroupsPerDimension;
    for (const count of [x, y, z]) {
      if (count > maxGroups) throw new DeviceLimitError(kernel.name, 'workgroup count in one dimension', count, maxGroups);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const { pipeline, ready } = this.pipelines.get(kernel, spec.entryPoint, spec.overrides);
    this.track(ready);

    const entries: GPUBindGroupEntry[] = [];
    const layout = kernel.uniformLayout;
    if (layout) {
      const slot = this.uniforms.slot(layout.byteSize);
      packUniforms(layout, spec.uniforms ?? {}, slot.view, kernel.name);
      entries.push({ binding: 0, resource: { buffer: slot.buffer, offset: slot.offset, size: layout.byteSize } });
    }
    const maxBinding = this.limits.maxStorageBufferBindingSize;
    spec.bindings.forEach((t, i) => {
      if (t.byteLength > maxBinding) {
        throw new DeviceLimitError(kernel.name, `binding ${i + 1} (${shapeToString(t.shape)}) in bytes`, t.byteLength, maxBinding);
      }
      entries.push({ binding: i + 1, resource: { buffer: t.buffer, offset: t.byteOffset, size: t.byteLength } });
    });

    const encoder = this.commandEncoder();
    this.batchKernels.push(kernel.name);
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const timestampWrites = this.passTimestamps?.(kernel.name, spec);
    const pass = encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
  }

  /** Submits everything encoded so far. Cheap when nothing is pending. */
  flush(): void {
    if (!this.encoder) return;
    const commands = this.encoder.finish();
    this.encoder = null;
    this.uniforms.upload(this.device.queue);
    this.device.queue.submit([commands]);
    this.uniforms.retire(this.device.queue.onSubmittedWorkDone());
    const kernels = this.batchKernels;
    this.batchKernels = [];
    this.track(
      Promise.all([this.device.popErrorScope(), this.device.popErrorScope()]).then(([outOfMemory, validation]) => {
        const error = validation ?? outOfMemory;
        if (error) throw new GpuValidationError([...new Set(kernels)], error.message);
      }),
    );
  }

  /** Submits pending work, waits for the GPU, and throws the first error any of it raised. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.settle([...this.pendingChecks]);
  }

  /** Waits for the given submissions' error checks and throws the first error any of them raised. */
  private async settle(checks: Promise<void>[]): Promise<void> {
    for (const check of checks) this.pendingChecks.delete(check);
    const failures = (await Promise.allSettled(checks)).flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    // A broken shader also invalidates the submission that used it: report the root cause.
    const rootCause = failures.find((e) => e instanceof ShaderCompileError) ?? failures[0];
    if (rootCause) throw rootCause;
  }

  /** Encoder for work that is not a kernel dispatch (copies, timestamp resolves), batched with the rest. */
  commandEncoder(): GPUCommandEncoder {
    if (!this.encoder) {
      this.device.pushErrorScope('validation');
      this.device.pushErrorScope('out-of-memory');
      this.encoder = this.device.createCommandEncoder();
    }
    return this.encoder;
  }

  /**
   * A tensor bound where a kernel's optional input (e.g. bias) is absent. Four floats, so it also
   * satisfies the 16-byte minimum binding size of kernels that read `array<vec4<f32>>`.
   */
  placeholder(): GpuTensor {
    this.placeholderTensor ??= new GpuTensor(this.device.createBuffer({ size: 16, usage: storageUsage() }), [4], 'f32', 0, true);
    return this.placeholderTensor;
  }

  memory(): PoolStats {
    return this.pool.snapshot();
  }

  destroy(): void {
    this.flush();
    this.pool.trim();
    this.uniforms.destroy();
    this.device.destroy();
  }

  private track(check: Promise<void>): void {
    check.catch(() => {}); // observed in sync(); avoids an unhandled-rejection report in between
    this.pendingChecks.add(check);
  }
}

/** Acquires a device (see device/device.ts) and wraps it in a Gpu context. */
export async function createGpu(options: DeviceOptions = {}): Promise<Gpu> {
  if (typeof process !== 'undefined' && process.versions?.node) await installNodeShaderReader();
  const { device, adapter, software } = await acquireDevice(options);
  return new Gpu(device, adapter, software);
}
