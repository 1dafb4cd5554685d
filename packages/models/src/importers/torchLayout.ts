/**
 * PyTorch layouts -> graft's: the ONE place the conversion happens. Because graft's modules carry
 * torchvision's field names, a PyTorch state dict maps key for key; only the layouts differ:
 *   - Conv2d weight: PyTorch OIHW [c_out, c_in, k_h, k_w] -> graft HWIO [k_h, k_w, c_in, c_out]
 *     (NHWC convolution reads c_out fastest).
 *   - Depthwise Conv2d weight: PyTorch [c, 1, k_h, k_w] -> graft [k_h, k_w, c].
 *   - Linear weight: PyTorch [out, in] is graft's layout too; kept as is, except for a Linear that reads
 *     a flattened feature map (VGG's classifier.0): PyTorch flattens NCHW, so its columns run (c, h, w);
 *     graft flattens NHWC, (h, w, c). Such a Linear is marked with `markFlattenedInput` by the model that
 *     builds it, and its columns are permuted here.
 *   - Scalars (num_batches_tracked): PyTorch [] -> graft [1].
 * Which rule applies is decided by the module that owns the key (a Conv2d's `weight`), not by
 * guessing from the shape. Then Module.loadStateDict checks every key and shape (strict by default).
 */
import { AutogradError, Conv2d, formatLoadProblems, Linear, type HostEntry, type LoadResult, type Module } from '@graft/autograd';

/** The [c, h, w] map a Linear's input was flattened from, for Linears marked by their model. */
const flattenedInputs = new WeakMap<Linear, readonly [c: number, h: number, w: number]>();

/**
 * Marks `linear` as reading a flattened [h, w, c] feature map (graft's NHWC flatten), so that
 * PyTorch weights, whose columns follow the NCHW flatten, are permuted on load and back on export.
 */
export function markFlattenedInput(linear: Linear, map: readonly [c: number, h: number, w: number]): void {
  const [c, h, w] = map;
  if (c * h * w !== linear.inFeatures) {
    throw new AutogradError(`markFlattenedInput: a [c ${c}, h ${h}, w ${w}] map flattens to ${c * h * w} values, but the Linear reads ${linear.inFeatures}`);
  }
  flattenedInputs.set(linear, map);
}

/** The [c, h, w] map `linear` reads flattened, if its model marked it. */
export function flattenedInputOf(linear: Linear): readonly [number, number, number] | undefined {
  return flattenedInputs.get(linear);
}

/**
 * Permutes the columns of a weight [out, c * h * w] (an NCHW flatten's order, PyTorch) into
 * [out, h * w * c] (the NHWC flatten's order, graft).
 */
export function chwColumnsToHwc(weight: Float32Array, out: number, c: number, h: number, w: number): Float32Array {
  return permuteColumns(weight, out, c, h, w, true);
}

/** The inverse of chwColumnsToHwc: [out, h * w * c] -> [out, c * h * w]. */
export function hwcColumnsToChw(weight: Float32Array, out: number, c: number, h: number, w: number): Float32Array {
  return permuteColumns(weight, out, c, h, w, false);
}

function permuteColumns(weight: Float32Array, out: number, c: number, h: number, w: number, toHwc: boolean): Float32Array {
  const cols = c * h * w;
  if (weight.length !== out * cols) throw new AutogradError(`${toHwc ? 'chwColumnsToHwc' : 'hwcColumnsToChw'}: ${weight.length} values is not [${out}, ${c}*${h}*${w}]`);
  const result = new Float32Array(weight.length);
  for (let o = 0; o < out; o++) {
    const base = o * cols;
    for (let ci = 0; ci < c; ci++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const hwc = base + (y * w + x) * c + ci;
          const chw = base + (ci * h + y) * w + x;
          if (toHwc) result[hwc] = weight[chw]!;
          else result[chw] = weight[hwc]!;
        }
      }
    }
  }
  return result;
}

/** [o, i, kh, kw] (row-major) -> [kh, kw, i, o]. */
export function oihwToHwio(w: HostEntry): HostEntry {
  const [o, i, kh, kw] = w.shape as [number, number, number, number];
  const out = new Float32Array(w.data.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((y * kw + x) * i + b) * o + a] = w.data[((a * i + b) * kh + y) * kw + x]!;
  return { data: out, shape: [kh, kw, i, o] };
}

/** [c, 1, kh, kw] -> [kh, kw, c]. */
export function depthwiseToHwc(w: HostEntry): HostEntry {
  const [c, , kh, kw] = w.shape as [number, number, number, number];
  const out = new Float32Array(w.data.length);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[(y * kw + x) * c + ch] = w.data[(ch * kh + y) * kw + x]!;
  return { data: out, shape: [kh, kw, c] };
}

/** The inverse of oihwToHwio: [kh, kw, i, o] -> [o, i, kh, kw]. */
export function hwioToOihw(w: HostEntry): HostEntry {
  const [kh, kw, i, o] = w.shape as [number, number, number, number];
  const out = new Float32Array(w.data.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((a * i + b) * kh + y) * kw + x] = w.data[((y * kw + x) * i + b) * o + a]!;
  return { data: out, shape: [o, i, kh, kw] };
}

/** The inverse of depthwiseToHwc: [kh, kw, c] -> [c, 1, kh, kw]. */
export function hwcToDepthwise(w: HostEntry): HostEntry {
  const [kh, kw, c] = w.shape as [number, number, number];
  const out = new Float32Array(w.data.length);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[(ch * kh + y) * kw + x] = w.data[(y * kw + x) * c + ch]!;
  return { data: out, shape: [c, 1, kh, kw] };
}

/** The modules whose weights change layout (Conv2d, and Linears marked by markFlattenedInput), by dotted name. */
function layoutModules(model: Module): Map<string, Conv2d | Linear> {
  const modules = new Map<string, Conv2d | Linear>();
  for (const [name, m] of model.namedModules()) {
    if (m instanceof Conv2d || (m instanceof Linear && flattenedInputs.has(m))) modules.set(name, m);
  }
  return modules;
}

/** The shape PyTorch stores for a graft tensor of `shape` under `key` (owned by `owner`). */
function torchShape(key: string, shape: readonly number[], owner: Conv2d | Linear | undefined): number[] {
  if (owner instanceof Conv2d && key.slice(key.lastIndexOf('.') + 1) === 'weight') {
    if (owner.depthwise) return [shape[2]!, 1, shape[0]!, shape[1]!];
    return [shape[3]!, shape[2]!, shape[0]!, shape[1]!];
  }
  return [...shape];
}

/** Equal shapes, with PyTorch's scalar [] the same as graft's [1]. */
function sameTorchShape(a: readonly number[], b: readonly number[]): boolean {
  const norm = (s: readonly number[]) => (s.length === 0 ? [1] : s);
  const x = norm(a);
  const y = norm(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** A marked Linear's PyTorch weight [out, c*h*w] -> graft's [out, h*w*c]. */
function linearToGraftLayout(entry: HostEntry, linear: Linear): HostEntry {
  const [c, h, w] = flattenedInputs.get(linear)!;
  if (entry.shape.length !== 2 || entry.shape[1] !== c * h * w) return entry; // mis-shaped: loadStateDict names it
  return { data: chwColumnsToHwc(entry.data, entry.shape[0]!, c, h, w), shape: [...entry.shape] };
}

/** One PyTorch tensor in graft's layout, given the module that will own it (if any). */
function toGraftLayout(key: string, entry: HostEntry, owner: Conv2d | Linear | undefined): HostEntry {
  if (owner instanceof Linear) return key.slice(key.lastIndexOf('.') + 1) === 'weight' ? linearToGraftLayout(entry, owner) : entry;
  const conv = owner;
  if (entry.shape.length === 0) return { data: entry.data, shape: [1] };
  if (!conv || key.slice(key.lastIndexOf('.') + 1) !== 'weight') return entry;
  if (entry.shape.length !== 4) {
    throw new AutogradError(`loadTorchStateDict: '${key}' is a Conv2d weight but has shape [${entry.shape.join(', ')}], not PyTorch's 4-d [c_out, c_in/groups, k_h, k_w]`);
  }
  if (conv.depthwise) {
    if (entry.shape[1] !== 1) throw new AutogradError(`loadTorchStateDict: '${key}' is a depthwise Conv2d weight but has shape [${entry.shape.join(', ')}], not [c, 1, k_h, k_w]`);
    return depthwiseToHwc(entry);
  }
  return oihwToHwio(entry);
}

/**
 * Loads a PyTorch state dict (host f32 tensors by torchvision key, e.g. from readSafetensors) into
 * `model`, converting layouts first. Strict by default: missing, unexpected and mis-shaped keys
 * throw together, listed by name.
 */
export function loadTorchStateDict(
  model: Module,
  tensors: Map<string, HostEntry> | Record<string, HostEntry>,
  { strict = true }: { strict?: boolean } = {},
): LoadResult {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const owners = layoutModules(model);
  const ownerOf = (key: string) => owners.get(key.includes('.') ? key.slice(0, key.lastIndexOf('.')) : '');
  // Shapes are compared in the file's (PyTorch) layout, so a mismatch reads like the file does.
  const own = model.stateDict();
  const misShaped: string[] = [];
  const converted = new Map<string, HostEntry>();
  for (const [key, entry] of entries) {
    const target = own[key];
    if (target) {
      const expected = torchShape(key, target.shape, ownerOf(key));
      if (!sameTorchShape(entry.shape, expected)) {
        misShaped.push(`${key}: expected [${expected.join(', ')}], found [${entry.shape.join(', ')}] (PyTorch layout)`);
        continue;
      }
    }
    converted.set(key, toGraftLayout(key, entry, ownerOf(key)));
  }
  const supplied = new Set(entries.map(([key]) => key));
  const missingKeys = Object.keys(own).filter((k) => !supplied.has(k));
  const unexpectedKeys = entries.map(([key]) => key).filter((k) => !(k in own));
  if (strict && (misShaped.length > 0 || missingKeys.length > 0 || unexpectedKeys.length > 0)) {
    // Checked before anything is written: a failed strict load leaves the model as it was.
    throw new AutogradError(formatLoadProblems(`loadTorchStateDict (${model.constructor.name})`, { missingKeys, unexpectedKeys, misShapedKeys: misShaped }));
  }
  const result = model.loadStateDict(converted, { strict: false });
  const skipped = result.misShapedKeys ?? []; // only an entry the layout rules passed but the module did not
  const all = [...misShaped, ...skipped];
  return all.length > 0 ? { missingKeys, unexpectedKeys, misShapedKeys: all } : { missingKeys, unexpectedKeys };
}

/**
 * The inverse of loadTorchStateDict's conversion: `model`'s state dict on the host in PyTorch layouts
 * (Conv2d HWIO -> OIHW, depthwise [kh, kw, c] -> [c, 1, kh, kw], Linear as is, BatchNorm's
 * num_batches_tracked [1] -> []), in stateDict order, ready for writeSafetensors.
 */
export async function torchStateDict(model: Module): Promise<Map<string, HostEntry>> {
  const owners = layoutModules(model);
  const out = new Map<string, HostEntry>();
  for (const [key, t] of Object.entries(model.stateDict())) {
    const entry: HostEntry = { data: await t.read(), shape: [...t.shape] };
    const dot = key.lastIndexOf('.');
    const owner = dot >= 0 ? key.slice(0, dot) : '';
    const field = key.slice(dot + 1);
    const module = owners.get(owner);
    if (module instanceof Conv2d && field === 'weight') out.set(key, module.depthwise ? hwcToDepthwise(entry) : hwioToOihw(entry));
    else if (module instanceof Linear && field === 'weight') {
      const [c, h, w] = flattenedInputs.get(module)!;
      out.set(key, { data: hwcColumnsToChw(entry.data, entry.shape[0]!, c, h, w), shape: entry.shape });
    }
    else if (field === 'num_batches_tracked' && entry.data.length === 1) out.set(key, { data: entry.data, shape: [] });
    else out.set(key, entry);
  }
  return out;
}
