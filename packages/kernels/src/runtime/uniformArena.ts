/**
 * Uniforms for all dispatches encoded before a submit are packed into 64 KiB chunks, one 256-byte
 * slot per dispatch, written with one writeBuffer per chunk at submit time. Chunks come back for
 * reuse once the GPU has finished the submission that used them.
 */
const chunkBytes = 65536;
const slotBytes = 256; // minUniformBufferOffsetAlignment

interface Chunk {
  buffer: GPUBuffer;
  shadow: ArrayBuffer;
  used: number;
}

export interface UniformSlot {
  buffer: GPUBuffer;
  offset: number;
  view: DataView;
}

export class UniformArena {
  private readonly idle: Chunk[] = [];
  private active: Chunk[] = [];

  constructor(private readonly device: GPUDevice) {}

  slot(byteSize: number): UniformSlot {
    if (byteSize > slotBytes) throw new Error(`uniform struct of ${byteSize} bytes exceeds the ${slotBytes}-byte slot`);
    let chunk = this.active[this.active.length - 1];
    if (!chunk || chunk.used + slotBytes > chunkBytes) {
      chunk = this.idle.pop() ?? {
        buffer: this.device.createBuffer({ size: chunkBytes, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }),
        shadow: new ArrayBuffer(chunkBytes),
        used: 0,
      };
      chunk.used = 0;
      this.active.push(chunk);
    }
    const offset = chunk.used;
    chunk.used += slotBytes;
    return { buffer: chunk.buffer, offset, view: new DataView(chunk.shadow, offset, byteSize) };
  }

  /** Writes the active chunks to the GPU; call right before submitting the encoder that uses them. */
  upload(queue: GPUQueue): void {
    for (const chunk of this.active) queue.writeBuffer(chunk.buffer, 0, chunk.shadow, 0, chunk.used);
  }

  /** Hands the active chunks back once `done` resolves (the submission finished on the GPU). */
  retire(done: Promise<unknown>): void {
    const chunks = this.active;
    this.active = [];
    void done.then(() => this.idle.push(...chunks));
  }

  destroy(): void {
    for (const chunk of [...this.idle, ...this.active]) chunk.buffer.destroy();
  }
}
