/** A tensor living in a GPU buffer: a typed, shaped view of `byteLength` bytes at `byteOffset`. */

export type DType = 'f32' | 'u32' | 'i32';

export const bytesPerElement: Record<DType, number> = { f32: 4, u32: 4, i32: 4 };

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

export function shapeToString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export class GpuTensor {
  constructor(
    readonly buffer: GPUBuffer,
    readonly shape: Shape,
    readonly dtype: DType = 'f32',
    readonly byteOffset = 0,
    /**
     * True for a view into storage someone else owns (an arena's tensors, the placeholder):
     * releasing it is an error, since that would hand the owner's buffer back to the pool.
     */
    readonly isView = false,
  ) {}

  get size(): number {
    return sizeOf(this.shape);
  }

  get byteLength(): number {
    return this.size * bytesPerElement[this.dtype];
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Same storage seen with another shape of equal size (no copy). Releasing either releases the storage. */
  reshape(shape: Shape): GpuTensor {
    if (sizeOf(shape) !== this.size) {
      throw new Error(`reshape: cannot view ${shapeToString(this.shape)} as ${shapeToString(shape)}`);
    }
    return new GpuTensor(this.buffer, shape, this.dtype, this.byteOffset, this.isView);
  }
}

/** Host-side tensor: data plus shape, the currency of the host-level op API and the references. */
export interface HostTensor {
  readonly data: Float32Array;
  readonly shape: Shape;
}
