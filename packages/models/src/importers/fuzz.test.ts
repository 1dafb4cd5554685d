/**
 * Random corruptions of each weight format thrown at its reader (fast-check, fixed seeds). Starting
 * from a valid small file, a corruption truncates it, overwrites bytes (half of them in the header
 * region, where the lengths and shapes live), writes a 32/64-bit integer lie at an offset, or
 * inserts / deletes a run of bytes. The property: the reader returns tensors whose data fills
 * their shapes exactly, or throws the format's own error class with a message that starts with the
 * file label. Any other exception (RangeError, TypeError, a protobufjs or h5wasm error leaking) is
 * a bug, and so is a declared size allocated before it is checked (it shows up as a RangeError).
 * Bugs the fuzzer found have deterministic regression cases in badInput.test.ts. The seed is fixed;
 * FUZZ_SEED=<n> explores another (a hang shows as the run never finishing: sync code cannot time out).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostEntry } from '@graft/autograd';
import fc from 'fast-check';
import { unzipSync, zipSync } from 'fflate';
import onnxProto from 'onnx-proto';
import h5wasm from 'h5wasm/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KerasH5Error, readKerasH5 } from './kerasH5.js';
import { OnnxError, parseOnnx } from './onnx.js';
import { parseSafetensors, SafetensorsError } from './safetensors.js';
import { parseTfjsLayersModel, readTfjsLayersModel, TfjsLayersError } from './tfjsLayers.js';
import { parseTorchZip, TorchZipError } from './torchZip.js';

const fixture = (name: string) => new Uint8Array(readFileSync(fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url))));
const dir = mkdtempSync(join(tmpdir(), 'graft-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await h5wasm.ready;
});

type Corruption =
  | { kind: 'truncate'; length: number }
  | { kind: 'overwrite'; writes: { at: number; value: number }[] }
  | { kind: 'lie'; at: number; value: bigint; width: 4 | 8 }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number };

/** Corruptions of a `length`-byte file whose first `header` bytes hold its lengths and shapes. */
function corruption(length: number, header: number): fc.Arbitrary<Corruption> {
  const offset = fc.oneof(fc.integer({ min: 0, max: Math.min(header, length) - 1 }), fc.integer({ min: 0, max: length - 1 }));
  const lie = fc.oneof(
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    fc.constantFrom(0n, 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 40n, 2n ** 63n, 2n ** 64n - 1n),
    fc.bigInt({ min: 0n, max: BigInt(2 * length) }),
  );
  return fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), length: fc.integer({ min: 0, max: length - 1 }) }),
    fc.record({ kind: fc.constant('overwrite' as const), writes: fc.array(fc.record({ at: offset, value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('lie' as const), at: offset, value: lie, width: fc.constantFrom(4 as const, 8 as const) }),
    fc.record({ kind: fc.constant('insert' as const), at: offset, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: offset, count: fc.integer({ min: 1, max: 16 }) }),
  );
}

function apply(bytes: Uint8Array, c: Corruption): Uint8Array {
  switch (c.kind) {
    case 'truncate':
      return bytes.slice(0, c.length);
    case 'overwrite': {
      const out = bytes.slice();
      for (const { at, value } of c.writes) out[at] = value;
      return out;
    }
    case 'lie': {
      const out = bytes.slice();
      const view = new DataView(out.buffer);
      if (c.at + c.width > out.length) return out;
      if (c.width === 8) view.setBigUint64(c.at, c.value, true);
      else view.setUint32(c.at, Number(c.value & 0xffffffffn), true);
      return out;
    }
    case 'insert': {
      const out = new Uint8Array(bytes.length + c.bytes.length);
      out.set(bytes.subarray(0, c.at));
      out.set(c.bytes, c.at);
      out.set(bytes.subarray(c.at), c.at + c.bytes.length);
      return out;
    }
    case 'delete': {
      const end = Math.min(bytes.length, c.at + c.count);
      const out = new Uint8Array(bytes.length - (end - c.at));
      out.set(bytes.subarray(0, c.at));
      out.set(bytes.subarray(end), c.at);
      return out;
    }
  }
}

/** A parsed result must hold whole tensors: integer non-negative dims, data filling the shape. */
function expectWholeTensors(tensors: Map<string, HostEntry>): void {
  for (const [name, { data, shape }] of tensors) {
    expect(shape.every((d) => Number.isSafeInteger(d) && d >= 0), `${name}: shape [${shape.join(', ')}]`).toBe(true);
    expect(data.length, `${name}: data length for shape [${shape.join(', ')}]`).toBe(shape.reduce((a, b) => a * b, 1));
  }
}

/** The outcome of reading a corrupted file: whole tensors, or the format's error naming `label`. */
function expectCleanOutcome(read: () => Map<string, HostEntry>, errorClass: new (...args: never[]) => Error, label: string): void {
  let tensors: Map<string, HostEntry>;
  try {
    tensors = read();
  } catch (e) {
    if (!(e instanceof errorClass)) throw new Error(`expected a ${errorClass.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.stack ?? String(e)}`);
    expect(e.message.startsWith(`${label}: `), e.message).toBe(true);
    return;
  }
  expectWholeTensors(tensors);
}

async function expectCleanOutcomeAsync(read: () => Promise<Map<string, HostEntry>>, errorClass: new (...args: never[]) => Error, label: string): Promise<void> {
  let tensors: Map<string, HostEntry>;
  try {
    tensors = await read();
  } catch (e) {
    if (!(e instanceof errorClass)) throw new Error(`expected a ${errorClass.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.stack ?? String(e)}`);
    expect(e.message.startsWith(`${label}: `), e.message).toBe(true);
    return;
  }
  expectWholeTensors(tensors);
}

const seed = Number(process.env.FUZZ_SEED ?? 20261122);

/** A JSON value that is wrong in the ways checkpoint headers go wrong, or any JSON value at all. */
const badValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(-1, 1.5, 2 ** 40, 2 ** 53, 2 ** 64, 'toString', '__proto__', 'constructor', [2 ** 20, 2 ** 20, 2 ** 20], [-4], [1.5], [2 ** 40], [0, 2 ** 60], []),
);

describe('fuzzed files: whole tensors or the format error naming the file', () => {
  it('safetensors (resnet_tiny_basic.safetensors)', () => {
    const bytes = fixture('resnet_tiny_basic.safetensors');
    const header = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(parseSafetensors(bytes, 'ok').size).toBeGreaterThan(0); // control: the uncorrupted file parses
    fc.assert(
      fc.property(corruption(bytes.length, header), (c) => expectCleanOutcome(() => parseSafetensors(apply(bytes, c), 'fuzz.safetensors'), SafetensorsError, 'fuzz.safetensors')),
      { seed, numRuns: 2000 },
    );
  });

  it('safetensors: one header field of one tensor replaced by a bad JSON value', () => {
    const bytes = fixture('resnet_tiny_basic.safetensors');
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, Record<string, unknown>>;
    const data = bytes.subarray(8 + length);
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const field = fc.constantFrom('dtype', 'shape', 'data_offsets', 'data_offsets.0', 'data_offsets.1', 'shape.0', 'tensor');
    fc.assert(
      fc.property(fc.constantFrom(...names), field, badValue, (name, f, v) => {
        const h = structuredClone(header);
        const info = h[name]!;
        if (f === 'tensor') h[name] = v as never;
        else if (f.includes('.')) {
          const [key, index] = f.split('.') as [string, string];
          (info[key] as unknown[])[Number(index)] = v;
        } else info[f] = v;
        const json = new TextEncoder().encode(JSON.stringify(h));
        const file = new Uint8Array(8 + json.length + data.length);
        new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
        file.set(json, 8);
        file.set(data, 8 + json.length);
        expectCleanOutcome(() => parseSafetensors(file, 'fuzz.safetensors'), SafetensorsError, 'fuzz.safetensors');
      }),
      { seed, numRuns: 1500 },
    );
  });

  it('PyTorch zip: corrupted pickle (data.pkl of tiny_state.pth, re-zipped)', () => {
    const entries = unzipSync(fixture('tiny_state.pth'));
    const pkl = entries['tiny_state/data.pkl']!;
    const rezip = (p: Uint8Array) => zipSync({ ...entries, 'tiny_state/data.pkl': p }, { level: 0 });
    expect(parseTorchZip(rezip(pkl), 'ok').size).toBeGreaterThan(0);
    fc.assert(
      fc.property(corruption(pkl.length, pkl.length), (c) => expectCleanOutcome(() => parseTorchZip(rezip(apply(pkl, c)), 'fuzz.pth'), TorchZipError, 'fuzz.pth')),
      { seed, numRuns: 3000 },
    );
  });

  it('PyTorch zip (tiny_state.pth: dtypes, strided views, nested dicts; resnet_tiny_basic.pth)', () => {
    for (const [name, runs] of [['tiny_state.pth', 1000], ['resnet_tiny_basic.pth', 300]] as const) {
      const bytes = fixture(name);
      expect(parseTorchZip(bytes, 'ok').size).toBeGreaterThan(0);
      // The pickle sits after the first local header (biased toward by the 'header' region); the
      // central directory and the ZIP64 end records close the file, so the second property writes
      // integers of every width into its last 400 bytes.
      fc.assert(
        fc.property(corruption(bytes.length, 1200), (c) => expectCleanOutcome(() => parseTorchZip(apply(bytes, c), 'fuzz.pth'), TorchZipError, 'fuzz.pth')),
        { seed, numRuns: runs },
      );
      const tail = Math.max(0, bytes.length - 400);
      fc.assert(
        fc.property(fc.integer({ min: tail, max: bytes.length - 1 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(1, 2, 4, 8), (at, value, width) => {
          const out = bytes.slice();
          const n = Math.min(width, out.length - at);
          for (let i = 0; i < n; i++) out[at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
          expectCleanOutcome(() => parseTorchZip(out, 'fuzz.pth'), TorchZipError, 'fuzz.pth');
        }),
        { seed, numRuns: runs },
      );
    }
  });

  it('ONNX (resnet_tiny_basic_nofold.onnx)', () => {
    const bytes = fixture('resnet_tiny_basic_nofold.onnx');
    expect(parseOnnx(bytes, 'ok').initializers.size).toBeGreaterThan(0);
    fc.assert(
      fc.property(corruption(bytes.length, 2000), (c) => expectCleanOutcome(() => parseOnnx(apply(bytes, c), 'fuzz.onnx').initializers, OnnxError, 'fuzz.onnx')),
      { seed, numRuns: 800 },
    );
  });

  it('ONNX: one field of one initializer replaced (dims, data type, data, location)', () => {
    const { onnx } = onnxProto;
    const bytes = fixture('resnet_tiny_basic_nofold.onnx');
    const base = onnx.ModelProto.decode(bytes);
    const count = base.graph!.initializer!.length;
    const mutation = fc.oneof(
      fc.record({ field: fc.constant('dims' as const), value: fc.array(fc.oneof(fc.integer({ min: -3, max: 70 }), fc.constantFrom(2 ** 31, 2 ** 40, 2 ** 53, -(2 ** 40))), { maxLength: 5 }) }),
      fc.record({ field: fc.constant('dataType' as const), value: fc.integer({ min: 0, max: 25 }) }),
      fc.record({ field: fc.constant('rawData' as const), value: fc.uint8Array({ maxLength: 64 }) }),
      fc.record({ field: fc.constant('floatData' as const), value: fc.array(fc.float(), { maxLength: 8 }) }),
      fc.record({ field: fc.constant('dataLocation' as const), value: fc.integer({ min: 0, max: 3 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: count - 1 }), mutation, (i, m) => {
        const model = onnx.ModelProto.decode(bytes);
        const t = model.graph!.initializer![i]! as unknown as Record<string, unknown>;
        t[m.field] = m.value;
        if (m.field === 'floatData') t.rawData = new Uint8Array(0);
        const file = onnx.ModelProto.encode(model).finish();
        expectCleanOutcome(() => parseOnnx(file, 'fuzz.onnx').initializers, OnnxError, 'fuzz.onnx');
      }),
      { seed, numRuns: 1500 },
    );
  });

  it('TF.js layers: corrupted shard bytes and mutated manifests (parseTfjsLayersModel)', () => {
    const spec = [
      { name: 'conv/kernel', shape: [3, 3, 2, 4], dtype: 'float32' },
      { name: 'conv/bias', shape: [4], dtype: 'float32', quantization: { dtype: 'float16' } },
      { name: 'bn/gamma', shape: [4], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
      { name: 'bn/beta', shape: [4], dtype: 'float32', quantization: { dtype: 'uint16', scale: 0.25, min: 0 } },
      { name: 'step', shape: [], dtype: 'int32' },
    ];
    const shardBytes = 72 * 4 + 4 * 2 + 4 + 4 * 2 + 4;
    const shard = Uint8Array.from({ length: shardBytes }, (_, i) => (i * 37 + 11) & 0xff);
    const model = () => ({ modelTopology: {}, weightsManifest: [{ paths: ['shard1'], weights: structuredClone(spec) }] });
    const read = (json: unknown, bytes: Uint8Array) => parseTfjsLayersModel(json, (p) => (p === 'shard1' ? bytes : undefined), 'fuzz/model.json').tensors;
    expect(read(model(), shard).size).toBe(5);
    fc.assert(
      fc.property(corruption(shard.length, shard.length), (c) => expectCleanOutcome(() => read(model(), apply(shard, c)), TfjsLayersError, 'fuzz/model.json')),
      { seed, numRuns: 500 },
    );
    // Replace one field of one weight spec (or of the group) with an arbitrary JSON value.
    const value = fc.oneof(fc.jsonValue(), fc.constantFrom(-1, 1.5, 2 ** 40, 2 ** 53, Infinity, NaN, 'toString', '__proto__', [2 ** 20, 2 ** 20, 2 ** 20], [-4], [1.5]));
    const field = fc.constantFrom('name', 'shape', 'dtype', 'quantization', 'quantization.dtype', 'quantization.scale', 'paths', 'weights', 'group');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: spec.length - 1 }), field, value, (w, f, v) => {
        const json = model();
        const group = json.weightsManifest[0]! as Record<string, unknown>;
        const weight = (group.weights as Record<string, unknown>[])[w]!;
        if (f === 'paths' || f === 'weights') group[f] = v;
        else if (f === 'group') json.weightsManifest[0] = v as never;
        else if (f.startsWith('quantization.')) weight.quantization = { ...((weight.quantization as object) ?? {}), [f.slice(13)]: v };
        else weight[f] = v;
        expectCleanOutcome(() => read(json, shard), TfjsLayersError, 'fuzz/model.json');
      }),
      { seed, numRuns: 1500 },
    );
  });

  it('TF.js layers: corrupted model.json text (readTfjsLayersModel)', () => {
    const json = JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['shard1'], weights: [{ name: 'w', shape: [2, 3], dtype: 'float32' }] }] });
    const text = new TextEncoder().encode(json);
    writeFileSync(join(dir, 'shard1'), new Uint8Array(24));
    const path = join(dir, 'model.json');
    fc.assert(
      fc.property(corruption(text.length, text.length), (c) => {
        writeFileSync(path, apply(text, c));
        expectCleanOutcome(() => readTfjsLayersModel(path).tensors, TfjsLayersError, path);
      }),
      { seed, numRuns: 500 },
    );
  });

  it('Keras HDF5 (mobilenetv2_tiny_keras.h5; each run written to a temp file)', async () => {
    const bytes = fixture('mobilenetv2_tiny_keras.h5');
    const path = join(dir, 'fuzz.h5');
    writeFileSync(path, bytes);
    expect((await readKerasH5(path)).tensors.size).toBeGreaterThan(0);
    await fc.assert(
      fc.asyncProperty(corruption(bytes.length, 4096), async (c) => {
        writeFileSync(path, apply(bytes, c));
        await expectCleanOutcomeAsync(async () => (await readKerasH5(path)).tensors, KerasH5Error, path);
      }),
      { seed, numRuns: 1000 },
    );
  }, 60_000);
});
