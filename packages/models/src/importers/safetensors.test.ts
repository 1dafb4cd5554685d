/** The safetensors reader and writer on hand-made files: dtype conversions and every validation error. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeSafetensors, halfToFloat, parseSafetensors, readSafetensors, writeSafetensors } from './safetensors.js';
import { depthwiseToHwc, oihwToHwio } from './torchLayout.js';

/** A safetensors file from a header object and raw data bytes. */
function file(header: unknown, data: Uint8Array = new Uint8Array(0), headerText = JSON.stringify(header)): Uint8Array {
  const text = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

const u16 = (...values: number[]) => new Uint8Array(Uint16Array.from(values).buffer); // little-endian hosts

describe('parseSafetensors', () => {
  it('widens F16 exactly (normal, subnormal, signed zero, infinity)', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
    const t = parseSafetensors(file({ h: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 8] } }, u16(0x3c00, 0xc000, 0x3555, 0x0001)));
    expect(t.get('h')).toEqual({ dtype: 'F16', shape: [2, 2], data: Float32Array.from([1, -2, 0.333251953125, 2 ** -24]) });
  });

  it('widens BF16 (the top half of an f32)', () => {
    const t = parseSafetensors(file({ b: { dtype: 'BF16', shape: [3], data_offsets: [0, 6] } }, u16(0x3f80, 0xc040, 0x3eab)));
    expect(t.get('b')!.data).toEqual(Float32Array.from([1, -3, 0.333984375]));
  });

  it('reads I64 scalars (num_batches_tracked) and skips __metadata__', () => {
    const data = new Uint8Array(8);
    new DataView(data.buffer).setBigInt64(0, 12345n, true);
    const t = parseSafetensors(file({ __metadata__: { format: 'pt' }, n: { dtype: 'I64', shape: [], data_offsets: [0, 8] } }, data));
    expect([...t.keys()]).toEqual(['n']);
    expect(t.get('n')).toEqual({ dtype: 'I64', shape: [], data: Float32Array.from([12345]) });
  });

  it('names the file and the problem', () => {
    const f32 = (shape: number[], offsets: unknown) => ({ w: { dtype: 'F32', shape, data_offsets: offsets } });
    expect(() => parseSafetensors(new Uint8Array(5), 'm.safetensors')).toThrow(/^m\.safetensors: truncated file: 5 bytes/);
    expect(() => parseSafetensors(file({}).subarray(0, 9), 'm.safetensors')).toThrow(/m\.safetensors: truncated file: header of 2 bytes/);
    expect(() => parseSafetensors(file(null, undefined, '{"w": '), 'm.safetensors')).toThrow(/m\.safetensors: bad header: not UTF-8 JSON/);
    expect(() => parseSafetensors(file([1, 2]), 'm.safetensors')).toThrow(/bad header: the JSON header is not an object/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
    expect(() => parseSafetensors(huge, 'm.safetensors')).toThrow(/bad header: header length 1099511627776 exceeds/);
    expect(() => parseSafetensors(file({ w: { dtype: 'I8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), 'm.safetensors')).toThrow(
      /m\.safetensors: tensor 'w': unsupported dtype I8/,
    );
    expect(() => parseSafetensors(file(f32([2], [0, 8]), new Uint8Array(4)), 'm.safetensors')).toThrow(/tensor 'w': data_offsets \[0, 8\] out of range .*4 bytes: truncated file\?/);
    expect(() => parseSafetensors(file(f32([2], [8, 0]), new Uint8Array(8)), 'm.safetensors')).toThrow(/tensor 'w': data_offsets \[8, 0\] out of range/);
    expect(() => parseSafetensors(file(f32([3], [0, 8]), new Uint8Array(8)), 'm.safetensors')).toThrow(/tensor 'w': 8 bytes of data for shape \[3\] of F32 \(expected 12\)/);
    expect(() => parseSafetensors(file(f32([-1], [0, 0])), 'm.safetensors')).toThrow(/tensor 'w' has shape \[-1\]/);
    expect(() => parseSafetensors(file(f32([1], [0])), 'm.safetensors')).toThrow(/tensor 'w' has data_offsets \[0\], not \[begin, end\]/);
    expect(() => readSafetensors('/nonexistent/x.safetensors')).toThrow(/\/nonexistent\/x\.safetensors: cannot read/);
  });
});

describe('writeSafetensors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'graft-safetensors-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips through the reader, pads the header to 8 bytes and leaves no temporary file', () => {
    const path = join(dir, 'model.safetensors');
    writeSafetensors(path, { a: { data: Float32Array.from([1, -2.5, 3]), shape: [3] }, 'b.c': { data: Float32Array.from([7]), shape: [] } });
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    const parsed = readSafetensors(path);
    expect([...parsed.keys()]).toEqual(['a', 'b.c']);
    expect(parsed.get('a')).toEqual({ dtype: 'F32', shape: [3], data: Float32Array.from([1, -2.5, 3]) });
    expect(parsed.get('b.c')).toEqual({ dtype: 'F32', shape: [], data: Float32Array.from([7]) });
    const bytes = encodeSafetensors({ a: { data: new Float32Array(1), shape: [1] } });
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
  });

  it("writes dtype 'I32' entries as int32 (labels), read back exactly", () => {
    const bytes = encodeSafetensors({ x: { data: Float32Array.from([0.5]), shape: [1] }, labels: { data: Float32Array.from([3, -1, 70000]), shape: [3], dtype: 'I32' } });
    const parsed = parseSafetensors(bytes);
    expect(parsed.get('labels')).toEqual({ dtype: 'I32', shape: [3], data: Float32Array.from([3, -1, 70000]) });
    // The bytes are int32, not float32: 3 as int32 is 03 00 00 00.
    const end = bytes.byteLength;
    expect(Array.from(bytes.subarray(end - 12, end - 8))).toEqual([3, 0, 0, 0]);
  });

  it('refuses a tensor whose data does not fill its shape', () => {
    expect(() => encodeSafetensors({ a: { data: new Float32Array(3), shape: [2, 2] } })).toThrow(/tensor 'a' has 3 values for shape \[2, 2\]/);
  });
});

describe('PyTorch layouts', () => {
  it('OIHW -> HWIO and depthwise [c, 1, kh, kw] -> [kh, kw, c] move each value to its place', () => {
    // w[o][i][y][x] = 1000o + 100i + 10y + x, so each value names its source index.
    const [o, i, kh, kw] = [2, 3, 2, 4];
    const data = new Float32Array(o * i * kh * kw);
    for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) data[((a * i + b) * kh + y) * kw + x] = 1000 * a + 100 * b + 10 * y + x;
    const hwio = oihwToHwio({ data, shape: [o, i, kh, kw] });
    expect(hwio.shape).toEqual([kh, kw, i, o]);
    expect(hwio.data[((1 * kw + 3) * i + 2) * o + 1]).toBe(1000 + 200 + 10 + 3);
    const dw = depthwiseToHwc({ data: data.slice(0, 3 * kh * kw), shape: [3, 1, kh, kw] });
    expect(dw.shape).toEqual([kh, kw, 3]);
    // Channel c of [c, 1, kh, kw] is index c of the flattened first axis: 100c in the values above (i = c).
    expect(dw.data[(1 * kw + 2) * 3 + 2]).toBe(200 + 10 + 2);
  });
});
