/**
 * Storage buffers are recycled by size class instead of created and destroyed per tensor: creating
 * GPU buffers is slow, and a training step asks for the same sizes every time, so after the first
 * step the pool serves every request and memory stays flat.
 */

const alignment = 256; // minStorageBufferOffsetAlignment on every adapter we know; also keeps classes few.

/** Rounds a request up to its size class: 256-byte steps up to 64 KiB, then 8 classes per power of two. */
export function sizeClass(byteLength: number): number {
  const bytes = Math.max(alignment, Math.ceil(byteLength / alignment) * alignment);
  if (bytes <= 65536) return bytes;
  const octave = 2 ** Math.floor(Math.log2(bytes));
  const step = octave / 8;
  return Math.ceil(bytes / step) * step;
}

export interface PoolStats {
  /** Bytes of buffers handed out and not yet released. */
  bytesInUse: number;
  /** Bytes of buffers held by the pool for reuse. */
  bytesFree: number;
  /** Highest bytesInUse seen since the pool was created or resetPeak() was called. */
  peakBytesInUse: number;
  buffersCreated: number;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  /** Buffers handed out and not yet released: a release of anything else is a bug in the caller. */
  private readonly inUse = new Set<GPUBuffer>();
  private readonly stats: PoolStats = { bytesInUse: 0, bytesFree: 0, peakBytesInUse: 0, buffersCreated: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
  ) {}

  acquire(byteLength: number): GPUBuffer {
    const size = sizeClass(byteLength);
    const reused = this.free.get(size)?.pop();
    if (reused) this.stats.bytesFree -= size;
    const buffer = reused ?? this.create(size);
    this.inUse.add(buffer);
    this.stats.bytesInUse += size;
    this.stats.peakBytesInUse = Math.max(this.stats.peakBytesInUse, this.stats.bytesInUse);
    return buffer;
  }

  /** Returns `buffer` for reuse. Throws when it is not in use: released twice, or never from this pool. */
  release(buffer: GPUBuffer): void {
    if (!this.inUse.delete(buffer)) {
      throw new Error('release: this buffer is not in use (released twice, or not allocated by this pool)');
    }
    const size = buffer.size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
    this.stats.bytesInUse -= size;
    this.stats.bytesFree += size;
  }

  /** Destroys every pooled (free) buffer, e.g. between benchmark cases with different shapes. */
  trim(): void {
    for (const list of this.free.values()) for (const buffer of list) buffer.destroy();
    this.free.clear();
    this.stats.bytesFree = 0;
  }

  resetPeak(): void {
    this.stats.peakBytesInUse = this.stats.bytesInUse;
  }

  snapshot(): PoolStats {
    return { ...this.stats };
  }

  private create(size: number): GPUBuffer {
    this.stats.buffersCreated++;
    return this.device.createBuffer({ size, usage: this.usage });
  }
}
