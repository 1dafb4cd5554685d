/**
 * Kernel parameters travel in one uniform struct per kernel, declared in the kernel's WGSL as
 *   struct Params { n: u32, h: u32, ..., alpha: f32 }
 * The layout is read from that declaration, so the launcher names fields and never counts offsets.
 * Only 4-byte scalars (u32, i32, f32) are allowed: their WGSL uniform layout is then simply
 * consecutive 4-byte slots, and the struct's size rounds up to 16 bytes.
 */

export type ScalarType = 'u32' | 'i32' | 'f32';

export interface UniformField {
  readonly name: string;
  readonly type: ScalarType;
  readonly offset: number;
}

export interface UniformLayout {
  readonly structName: string;
  readonly fields: readonly UniformField[];
  readonly byteSize: number;
}

const structPattern = (name: string) => new RegExp(`struct\\s+${name}\\s*\\{([^}]*)\\}`);

/** Reads the layout of `struct <structName>` from WGSL source. Throws on anything but 4-byte scalars. */
export function parseUniformLayout(wgsl: string, structName = 'Params'): UniformLayout {
  const withoutComments = wgsl.replace(/\/\/[^\n]*/g, '');
  const match = structPattern(structName).exec(withoutComments);
  if (!match) throw new Error(`WGSL has no 'struct ${structName}'`);
  const fields: UniformField[] = [];
  for (const member of match[1]!.split(',')) {
    const text = member.trim();
    if (text === '') continue;
    const parsed = /^(\w+)\s*:\s*(\w+)$/.exec(text);
    if (!parsed || !['u32', 'i32', 'f32'].includes(parsed[2]!)) {
      throw new Error(`struct ${structName}: member '${text}' is not a u32/i32/f32 scalar`);
    }
    fields.push({ name: parsed[1]!, type: parsed[2] as ScalarType, offset: fields.length * 4 });
  }
  const byteSize = Math.max(16, Math.ceil((fields.length * 4) / 16) * 16);
  return { structName, fields, byteSize };
}

/**
 * Writes `values` into `target` (a view of at least layout.byteSize bytes) following `layout`.
 * Every field must be given exactly once; u32 fields must be non-negative integers that fit.
 */
export function packUniforms(
  layout: UniformLayout,
  values: Readonly<Record<string, number>>,
  target: DataView,
  kernel: string,
): void {
  const given = new Set(Object.keys(values));
  for (const field of layout.fields) {
    const value = values[field.name];
    if (value === undefined) throw new Error(`${kernel}: uniform field '${field.name}' was not given`);
    given.delete(field.name);
    switch (field.type) {
      case 'u32':
        if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
          throw new Error(`${kernel}: uniform '${field.name}' must be a u32, found ${value}`);
        }
        target.setUint32(field.offset, value, true);
        break;
      case 'i32':
        if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
          throw new Error(`${kernel}: uniform '${field.name}' must be an i32, found ${value}`);
        }
        target.setInt32(field.offset, value, true);
        break;
      case 'f32':
        target.setFloat32(field.offset, value, true);
        break;
    }
  }
  if (given.size > 0) throw new Error(`${kernel}: unknown uniform field(s) ${[...given].join(', ')}`);
}
