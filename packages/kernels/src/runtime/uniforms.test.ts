import { describe, expect, it } from 'vitest';
import { packUniforms, parseUniformLayout } from './uniforms.js';

const wgsl = `
struct Other { a: u32 }
// Params carries the sizes; comments inside are ignored: fake: f32,
struct Params {
  n: u32,
  h: u32, // rows
  offset: i32,
  alpha: f32,
  c_out: u32,
}
@group(0) @binding(0) var<uniform> params: Params;`;

describe('uniform layout from WGSL', () => {
  it('reads fields in declaration order with 4-byte offsets and a 16-byte-rounded size', () => {
    const layout = parseUniformLayout(wgsl);
    expect(layout.fields.map((f) => [f.name, f.type, f.offset])).toEqual([
      ['n', 'u32', 0],
      ['h', 'u32', 4],
      ['offset', 'i32', 8],
      ['alpha', 'f32', 12],
      ['c_out', 'u32', 16],
    ]);
    expect(layout.byteSize).toBe(32);
  });

  it('rejects non-scalar members and missing structs', () => {
    expect(() => parseUniformLayout('struct Params { v: vec4<f32> }')).toThrow(/not a u32\/i32\/f32 scalar/);
    expect(() => parseUniformLayout('struct Foo { a: u32 }')).toThrow(/no 'struct Params'/);
  });

  it('packs values by name, little-endian, with the right types', () => {
    const layout = parseUniformLayout(wgsl);
    const view = new DataView(new ArrayBuffer(layout.byteSize));
    packUniforms(layout, { n: 3, h: 4294967295, offset: -2, alpha: 0.5, c_out: 7 }, view, 'test');
    expect(view.getUint32(0, true)).toBe(3);
    expect(view.getUint32(4, true)).toBe(4294967295);
    expect(view.getInt32(8, true)).toBe(-2);
    expect(view.getFloat32(12, true)).toBe(0.5);
    expect(view.getUint32(16, true)).toBe(7);
  });

  it('names the kernel and field when a value is missing, unknown or of the wrong type', () => {
    const layout = parseUniformLayout(wgsl);
    const view = new DataView(new ArrayBuffer(layout.byteSize));
    const ok = { n: 1, h: 1, offset: 0, alpha: 1, c_out: 1 };
    const { c_out: _omitted, ...missing } = ok;
    expect(() => packUniforms(layout, missing, view, 'conv')).toThrow(/conv: uniform field 'c_out' was not given/);
    expect(() => packUniforms(layout, { ...ok, extra: 1 }, view, 'conv')).toThrow(/unknown uniform field\(s\) extra/);
    expect(() => packUniforms(layout, { ...ok, n: -1 }, view, 'conv')).toThrow(/'n' must be a u32, found -1/);
    expect(() => packUniforms(layout, { ...ok, n: 1.5 }, view, 'conv')).toThrow(/'n' must be a u32/);
    expect(() => packUniforms(layout, { ...ok, offset: 2 ** 31 }, view, 'conv')).toThrow(/'offset' must be an i32/);
  });
});
