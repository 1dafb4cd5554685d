/**
 * A weights-only reader for PyTorch zip checkpoints (torch.save since 1.6): `<archive>/data.pkl`, a
 * pickle (protocol 2), plus `<archive>/data/<key>` raw little-endian storages. Nothing in the file is
 * executed: a small pickle virtual machine implements only the opcodes a state dict uses, and GLOBAL
 * resolves only an allow-list (like PyTorch's `weights_only=True`): collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2 and the typed storage classes. Any other global (os.system arrives
 * as `posix.system`) is refused by name. Strided tensors (storage offset, size, stride) are copied
 * into contiguous f32. Nested dicts are flattened with dotted keys. Errors name the file and tensor.
 *
 * The zip container is read by hand: torch.save writes stored (uncompressed) entries, so only the
 * central directory has to be walked; a compressed or ZIP64 entry is reported, not guessed at.
 */
import { unzipSync } from 'fflate';
import { readFileSync } from 'node:fs';
import type { HostEntry } from '@graft/autograd';
import { halfToFloat } from './safetensors.js';

export class TorchZipError extends Error {
  override name = 'TorchZipError';
}

/** Storage class -> bytes per element and decoder. */
const storageTypes: Record<string, { bytes: number; read: (v: DataView, i: number) => number }> = {
  FloatStorage: { bytes: 4, read: (v, i) => v.getFloat32(4 * i, true) },
  DoubleStorage: { bytes: 8, read: (v, i) => v.getFloat64(8 * i, true) },
  HalfStorage: { bytes: 2, read: (v, i) => halfToFloat(v.getUint16(2 * i, true)) },
  BFloat16Storage: {
    bytes: 2,
    read: (v, i) => {
      const w = new DataView(new ArrayBuffer(4));
      w.setUint32(0, v.getUint16(2 * i, true) << 16);
      return w.getFloat32(0);
    },
  },
  LongStorage: { bytes: 8, read: (v, i) => Number(v.getBigInt64(8 * i, true)) },
  IntStorage: { bytes: 4, read: (v, i) => v.getInt32(4 * i, true) },
};

/** The archive's entries by name; fflate does the zip container, torch.save's own layout is ours. */
function unzipEntries(bytes: Uint8Array, fail: (m: string) => never): Map<string, Uint8Array> {
  const isZip = bytes.byteLength >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
  if (!isZip) fail('not a zip archive (a legacy non-zip torch.save file? re-save it with a current PyTorch)');
  // The directory's counts and sizes are checked as fflate walks it: each entry's central header takes
  // at least 46 bytes, and a compressed entry cannot inflate past deflate's ~1032:1 ratio. Without
  // this a lying ZIP64 entry count loops billions of times, and a lying size allocates gigabytes.
  let entries = 0;
  const filter = ({ name, size, originalSize, compression }: { name: string; size: number; originalSize: number; compression: number }) => {
    if (++entries > bytes.byteLength / 46) fail(`corrupt zip archive: the central directory claims more entries than ${bytes.byteLength} bytes can hold`);
    if (compression !== 0 && originalSize > 1032 * size + 64) fail(`corrupt zip archive: entry '${name}' claims ${originalSize} bytes from ${size} compressed`);
    return true;
  };
  try {
    return new Map(Object.entries(unzipSync(bytes, { filter })));
  } catch (error) {
    if (error instanceof TorchZipError) throw error;
    return fail(`corrupt or truncated zip archive (${error instanceof Error ? error.message : String(error)})`);
  }
}

const MARK = Symbol('mark');
class Global {
  constructor(readonly module: string, readonly name: string) {}
}
class StorageRef {
  constructor(readonly type: string, readonly key: string, readonly numel: number) {}
}
/** A rebuilt tensor, materialised lazily so that errors can name its key (known only once it is stored). */
class TensorValue {
  constructor(readonly materialise: () => HostEntry) {}
}
class Dict {
  readonly map = new Map<string, unknown>();
}

/** A short, cycle-safe description of an unpickled value for error messages. */
function describe(x: unknown, depth = 0): string {
  if (Array.isArray(x)) return depth > 1 ? '[...]' : `[${x.slice(0, 6).map((v) => describe(v, depth + 1)).join(', ')}${x.length > 6 ? ', ...' : ''}]`;
  if (x instanceof Global) return `${x.module}.${x.name}`;
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x);
  if (typeof x === 'object' && x !== null) return x.constructor.name;
  return String(x);
}

const allowedGlobals = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  ...Object.keys(storageTypes).map((s) => `torch.${s}`),
]);

/** Runs the allow-listed pickle opcodes of `pkl`; tensors are materialised from `storage(key)`. */
function unpickle(
  pkl: Uint8Array,
  storage: (ref: StorageRef) => Uint8Array,
  fail: (m: string) => never,
  failTensor: (m: string) => never,
): unknown {
  const view = new DataView(pkl.buffer, pkl.byteOffset, pkl.byteLength);
  const decoder = new TextDecoder();
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pc = 0;
  const need = (n: number) => {
    if (pc + n > pkl.byteLength) fail('truncated pickle');
  };
  const u8 = () => (need(1), pkl[pc++]!);
  const u16 = () => (need(2), (pc += 2), view.getUint16(pc - 2, true));
  const u32 = () => (need(4), (pc += 4), view.getUint32(pc - 4, true));
  const bytesOf = (n: number) => (need(n), (pc += n), pkl.subarray(pc - n, pc));
  const line = () => {
    const end = pkl.indexOf(0x0a, pc);
    if (end < 0) fail('truncated pickle (GLOBAL without newline)');
    const s = decoder.decode(pkl.subarray(pc, end));
    pc = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0) fail('pickle stack underflow');
    return stack.pop();
  };
  const popMark = () => {
    const m = marks.pop();
    if (m === undefined) fail('pickle MARK missing');
    return stack.splice(m!);
  };
  const top = () => stack[stack.length - 1];
  const list = (x: unknown): unknown[] => (Array.isArray(x) ? x : fail('APPEND to a non-list'));
  const setItem = (d: unknown, k: unknown, v: unknown) => {
    if (!(d instanceof Dict)) fail('SETITEM on a non-dict');
    (d as Dict).map.set(String(k), v);
  };
  const call = (fn: unknown, args: unknown): unknown => {
    if (!(fn instanceof Global) || !Array.isArray(args)) fail('REDUCE of a non-global');
    const g = fn as Global;
    const a = args as unknown[];
    if (g.module === 'collections' && g.name === 'OrderedDict') return new Dict();
    if (g.module === 'torch._utils' && g.name === '_rebuild_tensor_v2') return rebuild(a);
    return fail(`refused: pickle calls ${g.module}.${g.name}`);
  };
  const rebuild = (a: unknown[]): TensorValue => {
    const [ref, offset, size, stride] = a as [StorageRef, number, number[], number[]];
    if (!(ref instanceof StorageRef) || typeof offset !== 'number' || !Array.isArray(size) || !Array.isArray(stride) || size.length !== stride.length) {
      fail('malformed _rebuild_tensor_v2 arguments');
    }
    return new TensorValue(() => materialise(ref, offset, size, stride, failTensor));
  };
  const materialise = (ref: StorageRef, offset: number, size: number[], stride: number[], fail: (m: string) => never): HostEntry => {
    const isIndex = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
    if (!isIndex(offset) || !size.every(isIndex) || !stride.every(isIndex)) {
      fail(`bad tensor view: offset ${String(offset)}, size [${size.map(String).join(', ')}], stride [${stride.map(String).join(', ')}] (need non-negative integers)`);
    }
    const count = size.reduce((x, y) => x * y, 1);
    // Checked before allocating: a view reads its storage, so it cannot hold more elements (a state
    // dict holds no expanded tensors), and its last element must lie inside the storage.
    const last = offset + size.reduce((at, s, d) => at + (s === 0 ? 0 : (s - 1) * stride[d]!), 0);
    if (count > 0 && (count > ref.numel || last >= ref.numel)) {
      fail(`tensor view of size [${size.join(', ')}] (stride [${stride.join(', ')}], offset ${offset}) does not fit storage '${ref.key}' of ${ref.numel} elements`);
    }
    const type = storageTypes[ref.type]!;
    const raw = storage(ref);
    const sv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = new Float32Array(count);
    const index = new Array<number>(size.length).fill(0);
    for (let i = 0; i < count; i++) {
      let at = offset;
      for (let d = 0; d < size.length; d++) at += index[d]! * stride[d]!;
      out[i] = type.read(sv, at);
      for (let d = size.length - 1; d >= 0; d--) {
        if (++index[d]! < size[d]!) break;
        index[d] = 0;
      }
    }
    return { data: out, shape: [...size] };
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: bytesOf(8); break; // FRAME
      case 0x7d: stack.push(new Dict()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x58: stack.push(decoder.decode(bytesOf(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(decoder.decode(bytesOf(u8()))); break; // SHORT_BINUNICODE
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) fail(`pickle memo ${k} unset`);
        stack.push(memo.get(k));
        break;
      }
      case 0x4a: need(4); stack.push(view.getInt32(pc, true)); pc += 4; break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: { // LONG1
        const b = bytesOf(u8());
        let v = 0n;
        for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
        if (b.length && b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
        stack.push(Number(v));
        break;
      }
      case 0x47: need(8); stack.push(view.getFloat64(pc, false)); pc += 8; break; // BINFLOAT (big-endian)
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4e: stack.push(null); break; // NONE
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); stack.push([pop(), b, c]); break; } // TUPLE3
      case 0x73: { const v = pop(); const k = pop(); setItem(top(), k, v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popMark();
        for (let i = 0; i + 1 < items.length; i += 2) setItem(top(), items[i], items[i + 1]);
        break;
      }
      case 0x61: { const v = pop(); list(top()).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); list(top()).push(...items); break; } // APPENDS
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        if (!allowedGlobals.has(`${module}.${name}`)) fail(`refused: pickle references ${module}.${name}, which a weights-only reader does not load`);
        stack.push(new Global(module, name));
        break;
      }
      case 0x52: { const args = pop(); stack.push(call(pop(), args)); break; } // REDUCE
      case 0x51: { // BINPERSID
        const pid = pop() as unknown[];
        const storageClass = Array.isArray(pid) && pid[1] instanceof Global && pid[1].module === 'torch' ? pid[1].name : '';
        if (!Array.isArray(pid) || pid[0] !== 'storage' || !Object.hasOwn(storageTypes, storageClass) || typeof pid[2] !== 'string' || !Number.isSafeInteger(pid[4]) || (pid[4] as number) < 0) {
          fail(`unsupported persistent id (want ('storage', torch.<Type>Storage, key, location, numel), got ${describe(pid)})`);
        }
        stack.push(new StorageRef((pid[1] as Global).name, pid[2] as string, pid[4] as number));
        break;
      }
      case 0x62: pop(); break; // BUILD: state (e.g. OrderedDict _metadata) is not needed for weights
      case 0x2e: return pop(); // STOP
      default: fail(`unsupported pickle opcode 0x${op.toString(16)} at byte ${pc - 1}`);
    }
  }
}

const maxNesting = 64;

/** Parses a PyTorch zip checkpoint held in memory; `file` names it in errors. Nested dicts flatten to dotted keys. */
export function parseTorchZip(bytes: Uint8Array, file = '<memory>'): Map<string, HostEntry> {
  const fail = (message: string): never => {
    throw new TorchZipError(`${file}: ${message}`);
  };
  const files = unzipEntries(bytes, fail);
  const pklName = [...files.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pklName) return fail('no <archive>/data.pkl in the zip (not a torch.save checkpoint?)');
  const prefix = pklName.slice(0, -'data.pkl'.length);
  const byteorder = files.get(`${prefix}byteorder`);
  if (byteorder && new TextDecoder().decode(byteorder).trim() !== 'little') fail('big-endian checkpoints are not supported');
  let current = '<top level>';
  const storage = (ref: StorageRef): Uint8Array => {
    const raw = files.get(`${prefix}data/${ref.key}`);
    if (!raw) return fail(`tensor '${current}': storage '${ref.key}' is missing from the archive`);
    const bpe = storageTypes[ref.type]!.bytes;
    if (raw.byteLength < ref.numel * bpe) fail(`tensor '${current}': storage '${ref.key}' has ${raw.byteLength} bytes, expected ${ref.numel * bpe} for ${ref.numel} ${ref.type} elements`);
    return raw;
  };
  const failTensor = (m: string): never => fail(current === '<top level>' ? m : `tensor '${current}': ${m}`);
  const root = unpickle(files.get(pklName)!, storage, fail, failTensor);
  const out = new Map<string, HostEntry>();
  const open = new Set<Dict>();
  const walk = (prefixKey: string, value: unknown) => {
    if (value instanceof TensorValue) {
      current = prefixKey;
      out.set(prefixKey, value.materialise());
    }
    else if (value instanceof Dict) {
      // The memo can make a dict contain itself; nesting deeper than any state dict is refused too.
      if (open.has(value) || open.size >= maxNesting) fail(`entry '${prefixKey}': dicts nested ${open.has(value) ? 'in a cycle' : `deeper than ${maxNesting}`}`);
      open.add(value);
      for (const [k, v] of value.map) walk(prefixKey ? `${prefixKey}.${k}` : k, v);
      open.delete(value);
    }
    else fail(`entry '${prefixKey}' is not a tensor or dict (${typeof value})`);
  };
  if (!(root instanceof Dict)) fail('the checkpoint is not a state dict (top-level object is not a dict)');
  walk('', root);
  return out;
}

/** Reads a .pth/.pt zip checkpoint (torch.save) into f32 host tensors, in the pickle's key order. */
export function readTorchZip(path: string): Map<string, HostEntry> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new TorchZipError(`${path}: cannot read (${(e as Error).message})`);
  }
  return parseTorchZip(bytes, path);
}
