/**
 * A GPU tensor that remembers how it was made. Leaves are tensors the user creates (inputs,
 * parameters); every op output is a non-leaf whose `creator` records the op, its inputs and its
 * backward. Buffers are owned deterministically: intermediates belong to the graph and are freed
 * by backward() (or by noGrad when it returns, or by releaseGraph()); leaves belong to the user.
 */
import type { Gpu, GpuTensor, Shape } from '@graft/kernels';
import { AutogradError, ReleasedTensorError } from './errors.js';
import type { Node } from './tape.js';

let nextId = 0;

export class Tensor {
  readonly id = nextId++;
  /** Accumulated gradient (a leaf that requires grad gets one from backward). */
  grad: Tensor | null = null;
  /** Kept alive when backward frees the graph it belongs to. */
  retained = false;
  private value: GpuTensor | null;

  constructor(
    readonly gpu: Gpu,
    value: GpuTensor,
    /** For leaves: whether backward computes a gradient for it. For non-leaves: whether any input needs one. */
    public requiresGrad: boolean,
    /** The op that made this tensor, or null for a leaf. */
    public creator: Node | null = null,
    public name = '',
  ) {
    this.value = value;
  }

  get isLeaf(): boolean {
    return this.creator === null;
  }

  get released(): boolean {
    return this.value === null;
  }

  /** The GPU storage; throws when the tensor was released. */
  get data(): GpuTensor {
    if (!this.value) throw new ReleasedTensorError(this.describe());
    return this.value;
  }

  get shape(): Shape {
    return this.data.shape;
  }

  get size(): number {
    return this.data.size;
  }

  /** Reads the values back to the host (the one CPU round trip a caller asks for explicitly). */
  read(): Promise<Float32Array> {
    return this.gpu.read(this.data);
  }

  /** Exempts this tensor from being freed when backward frees its graph. */
  retain(): this {
    this.retained = true;
    return this;
  }

  /**
   * Moves this tensor onto other storage (an optimizer's parameter arena) and returns the old one,
   * which the caller copies from and then frees; the tensor keeps its identity, name and grad.
   * Storage that is a view (`isView`) belongs to its arena: this tensor never frees it (see release).
   */
  adoptStorage(storage: GpuTensor): GpuTensor {
    const previous = this.data;
    if (storage.size !== previous.size) throw new AutogradError(`adoptStorage: ${storage.size} elements for ${this.describe()} of ${previous.size}`);
    this.value = storage;
    return previous;
  }

  /** Hands the storage to the caller, who now owns it; this tensor reads as released afterwards. */
  takeStorage(): GpuTensor {
    const storage = this.data;
    this.value = null;
    return storage;
  }

  /**
   * Frees the buffer now. Later use throws ReleasedTensorError. Releasing twice is harmless. A
   * tensor living in an arena (adoptStorage) only lets go of its view: the arena's owner frees it.
   */
  release(): void {
    if (!this.value) return;
    if (!this.value.isView) this.gpu.release(this.value);
    this.value = null;
    this.grad?.release();
    this.grad = null;
  }

  describe(): string {
    const what = this.name || (this.creator ? `output of ${this.creator.op}` : 'leaf tensor');
    return `tensor #${this.id} (${what})`;
  }
}
