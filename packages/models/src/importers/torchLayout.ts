/**
 * PyTorch layouts -> graft's: the ONE place the conversion happens. Because graft's modules carry
 * torchvision's field names, a PyTorch state dict maps key for key; only the layouts differ:
 *   - Conv2d weight: PyTorch OIHW [c_out, c_in, k_h, k_w] -> graft HWIO [k_h, k_w, c_in, c_out]
 *     (NHWC convolution reads c_out fastest).
 *   - Depthwise Conv2d weight: PyTorch [c, 1, k_h, k_w] -> graft [k_h, k_w, c].
 *   - Linear weight: PyTorch [out, in] is graft's layout too; kept as is.
 *   - Scalars (num_batches_tracked): PyTorch [] -> graft [1].
 * Which rule applies is decided by the module that owns the key (a Conv2d's `weight`), not by
 * guessing from the shape. Then Module.loadStateDict checks every key and shape (strict by default).
 */
import { AutogradError, Conv2d, type HostEntry, type LoadResult, type Module } from '@graft/autograd';

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

/** The conv modules of `model` by dotted name. */
function convModules(model: Module): Map<string, Conv2d> {
  const convs = new Map<string, Conv2d>();
  for (const [name, m] of model.namedModules()) if (m instanceof Conv2d) convs.set(name, m);
  return convs;
}

/** One PyTorch tensor in graft's layout, given the module that will own it (if any). */
function toGraftLayout(key: string, entry: HostEntry, conv: Conv2d | undefined): HostEntry {
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
  const convs = convModules(model);
  const converted = new Map<string, HostEntry>();
  for (const [key, entry] of entries) {
    const owner = key.includes('.') ? key.slice(0, key.lastIndexOf('.')) : '';
    converted.set(key, toGraftLayout(key, entry, convs.get(owner)));
  }
  return model.loadStateDict(converted, { strict });
}

/**
 * The inverse of loadTorchStateDict's conversion: `model`'s state dict on the host in PyTorch layouts
 * (Conv2d HWIO -> OIHW, depthwise [kh, kw, c] -> [c, 1, kh, kw], Linear as is, BatchNorm's
 * num_batches_tracked [1] -> []), in stateDict order, ready for writeSafetensors.
 */
export async function torchStateDict(model: Module): Promise<Map<string, HostEntry>> {
  const convs = convModules(model);
  const out = new Map<string, HostEntry>();
  for (const [key, t] of Object.entries(model.stateDict())) {
    const entry: HostEntry = { data: await t.read(), shape: [...t.shape] };
    const dot = key.lastIndexOf('.');
    const owner = dot >= 0 ? key.slice(0, dot) : '';
    const field = key.slice(dot + 1);
    const conv = convs.get(owner);
    if (conv && field === 'weight') out.set(key, conv.depthwise ? hwcToDepthwise(entry) : hwioToOihw(entry));
    else if (field === 'num_batches_tracked' && entry.data.length === 1) out.set(key, { data: entry.data, shape: [] });
    else out.set(key, entry);
  }
  return out;
}
