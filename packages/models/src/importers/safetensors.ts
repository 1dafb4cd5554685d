/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}} (plus an
 * optional "__metadata__" map of strings), then the raw little-endian data, offsets relative to
 * its start. Everything is read into f32 (graft's one dtype); F16 and BF16 are widened exactly,
 * integer buffers (num_batches_tracked is I64 in torchvision checkpoints) are converted to floats.
 * Every check names the file and the tensor, because a bad checkpoint is a user's first error.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../atomicWrite.js';
import type { HostEntry } from '@graft/autograd';

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32';

const bytesPerElement: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4 };

export interface SafetensorsEntry extends HostEntry {
  /** The dtype stored in the file (data is always f32). */
  dtype: SafetensorsDtype;
}

/** A header larger than this is not a checkpoint header (the reference implementation caps it at 100 MB). */
const maxHeaderBytes = 100_000_000;

/** An IEEE half (1 sign, 5 exponent, 10 mantissa bits) as a number: exact, subnormals and inf/NaN included. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function decode(dtype: SafetensorsDtype, bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      break;
    case 'BF16': {
      // bfloat16 is the top half of an f32: shift it back into place.
      const word = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        word.setUint32(0, view.getUint16(2 * i, true) << 16);
        out[i] = word.getFloat32(0);
      }
      break;
    }
    case 'I64':
      for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      break;
    case 'I32':
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
      break;
  }
  return out;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** Parses a whole safetensors file held in memory; `file` names it in errors. Keys keep the header's order. */
export function parseSafetensors(bytes: Uint8Array, file = '<memory>'): Map<string, SafetensorsEntry> {
  const fail = (message: string): never => {
    throw new SafetensorsError(`${file}: ${message}`);
  };
  if (bytes.byteLength < 8) fail(`truncated file: ${bytes.byteLength} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(maxHeaderBytes)) fail(`bad header: header length ${headerLength} exceeds ${maxHeaderBytes} bytes (not a safetensors file?)`);
  const headerEnd = 8 + Number(headerLength);
  if (headerEnd > bytes.byteLength) fail(`truncated file: header of ${headerLength} bytes but the file has ${bytes.byteLength - 8} after the length`);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, headerEnd)));
  } catch (e) {
    fail(`bad header: not UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isRecord(header)) return fail('bad header: the JSON header is not an object');

  const data = bytes.subarray(headerEnd);
  const tensors = new Map<string, SafetensorsEntry>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const where = `tensor '${name}'`;
    if (!isRecord(info)) fail(`bad header: ${where} is not an object`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (typeof dtype !== 'string') return fail(`bad header: ${where} has no dtype`);
    if (!Object.hasOwn(bytesPerElement, dtype)) fail(`${where}: unsupported dtype ${dtype} (supported: ${Object.keys(bytesPerElement).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every(isCount)) return fail(`bad header: ${where} has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      return fail(`bad header: ${where} has data_offsets ${JSON.stringify(offsets)}, not [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > data.byteLength) {
      fail(`${where}: data_offsets [${begin}, ${end}] out of range (the data section has ${data.byteLength} bytes${end > data.byteLength ? ': truncated file?' : ''})`);
    }
    const size = (shape as number[]).reduce((a, b) => a * b, 1);
    const bpe = bytesPerElement[dtype as SafetensorsDtype];
    if (end - begin !== size * bpe) fail(`${where}: ${end - begin} bytes of data for shape [${shape.join(', ')}] of ${dtype} (expected ${size * bpe})`);
    tensors.set(name, { dtype: dtype as SafetensorsDtype, shape: shape as number[], data: decode(dtype as SafetensorsDtype, data.subarray(begin, end), size) });
  }
  return tensors;
}

/** Reads a .safetensors file into f32 host tensors, by name in the header's order. */
export function readSafetensors(path: string): Map<string, SafetensorsEntry> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(`${path}: cannot read (${(e as Error).message})`);
  }
  return parseSafetensors(bytes, path);
}

/** A tensor to write: f32 by default; `dtype: 'I32'` stores the (integer) values as int32, e.g. labels. */
export type EncodableEntry = HostEntry & { dtype?: 'F32' | 'I32' | string };

/** Serialises tensors (in the record's order) as a safetensors file in memory: F32, or I32 where asked. */
export function encodeSafetensors(record: Record<string, EncodableEntry> | Map<string, EncodableEntry>): Uint8Array {
  const entries = record instanceof Map ? [...record] : Object.entries(record);
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, { data, shape, dtype }] of entries) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new SafetensorsError(`encodeSafetensors: tensor '${name}' has ${data.length} values for shape [${shape.join(', ')}]`);
    header[name] = { dtype: dtype === 'I32' ? 'I32' : 'F32', shape: [...shape], data_offsets: [offset, offset + 4 * size] };
    offset += 4 * size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (new TextEncoder().encode(json).byteLength % 8)) % 8); // the format pads to 8 bytes with spaces
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const [, { data, dtype }] of entries) {
    if (dtype === 'I32') for (let i = 0; i < data.length; i++) view.setInt32(at + 4 * i, data[i]!, true);
    else for (let i = 0; i < data.length; i++) view.setFloat32(at + 4 * i, data[i]!, true);
    at += 4 * data.length;
  }
  return out;
}

/** Writes f32 tensors as a .safetensors file atomically: a temporary file beside it, then a rename. */
export function writeSafetensors(path: string, record: Record<string, EncodableEntry> | Map<string, EncodableEntry>): void {
  writeFileAtomic(path, encodeSafetensors(record));
}
