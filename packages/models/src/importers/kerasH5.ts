/**
 * Keras HDF5 weight files (what keras.applications downloads, e.g.
 * `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5`), read with h5wasm. Keras 2
 * layout: the root attribute `layer_names` lists every layer (weightless ones too); each layer is a
 * group whose attribute `weight_names` (e.g. `Conv1/kernel:0`) names its weights, each stored as a
 * dataset at `<layer>/<weight_name>` (so `Conv1/Conv1/kernel:0`, a nested group of the same name).
 * Weights come back under Keras names without the `:0` (`Conv1/kernel`, `bn_Conv1/gamma`), in file
 * order, in Keras layouts, as f32. MobileNetV2 loads through tfjsLayers' shared name/layout mapping,
 * ResNet through resnetKeras'.
 * Every error names the file and, where there is one, the layer and dataset.
 */
import { readFileSync } from 'node:fs';
import h5wasm from 'h5wasm/node';
import type { HostEntry, LoadResult, Module } from '@graft/autograd';
import { halfToFloat } from './safetensors.js';
import { loadKerasResNet } from '../resnetKeras.js';
import { loadKerasMobileNetV2 } from './tfjsLayers.js';

export class KerasH5Error extends Error {
  override name = 'KerasH5Error';
}

export interface KerasH5Entry extends HostEntry {
  /** The stored HDF5 dtype string (e.g. `<f`, `<d`, `<e`); data is always f32. */
  stored: string;
}

export interface KerasH5Weights {
  /** Layer names from the root `layer_names` attribute, in order (weightless layers included). */
  layerNames: string[];
  /** Weights by Keras name without the `:0` suffix, in file order, Keras layouts. */
  tensors: Map<string, KerasH5Entry>;
}

/** The HDF5 superblock signature sits at byte 0 or after a user block (512, 1024, 2048, ...). */
function hasHdf5Signature(bytes: Uint8Array): boolean {
  const signature = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  for (let at = 0; at + 8 <= bytes.length; at = at === 0 ? 512 : at * 2) {
    if (signature.every((b, i) => bytes[at + i] === b)) return true;
  }
  return false;
}

/**
 * Variable-length strings (Keras' layer_names and weight_names) live in global heap collections:
 * 'GCOL', version 1, 3 reserved bytes, the collection's size (8 bytes), then objects of a 16-byte
 * header (index u16, refcount u16, 4 reserved, size u64) and their data padded to 8. libhdf5 walks
 * a collection trusting each size: a corrupt one (0, or past the collection) makes it loop forever
 * inside WebAssembly, where nothing can interrupt it. So each collection is walked here first; the
 * problem is returned as a message, or undefined.
 */
function globalHeapProblem(bytes: Uint8Array): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = bytes.indexOf(0x47, 0); at >= 0 && at + 16 <= bytes.length; at = bytes.indexOf(0x47, at + 1)) {
    if (view.getUint32(at, false) !== 0x47434f4c || bytes[at + 4] !== 1 || bytes[at + 5] || bytes[at + 6] || bytes[at + 7]) continue; // 'GCOL' v1
    const size = view.getBigUint64(at + 8, true);
    if (size < 16n || size > BigInt(bytes.length - at)) return `global heap at byte ${at}: collection size ${size} does not fit the file`;
    const end = at + Number(size);
    for (let p = at + 16; p + 16 <= end; ) {
      const index = view.getUint16(p, true);
      const objectSize = view.getBigUint64(p + 8, true);
      const need = index > 0 ? 16n + ((objectSize + 7n) & ~7n) : objectSize;
      if (need === 0n || need > BigInt(end - p)) return `global heap at byte ${at}: object ${index} at byte ${p} claims ${objectSize} bytes, the collection has ${end - p} left`;
      p += Number(need);
    }
  }
  return undefined;
}

const h5Float = 1; // H5T_FLOAT class in h5wasm's metadata.type

function strings(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) && !ArrayBuffer.isView(value)) return undefined;
  const list = Array.from(value as ArrayLike<unknown>);
  return list.every((s) => typeof s === 'string') ? (list as string[]) : undefined;
}

/**
 * Reads every weight of a Keras 2 HDF5 weight file (whole-model `.h5` files keep the same layout
 * under a `model_weights` group, which is followed when present).
 */
export async function readKerasH5(file: string): Promise<KerasH5Weights> {
  await h5wasm.ready;
  const fail = (message: string): never => {
    throw new KerasH5Error(`${file}: ${message}`);
  };
  let h5: InstanceType<typeof h5wasm.File>;
  let fileBytes = 0;
  try {
    const bytes = readFileSync(file);
    if (!hasHdf5Signature(bytes)) fail('cannot open as HDF5: no HDF5 signature');
    const heapProblem = globalHeapProblem(bytes);
    if (heapProblem) fail(`corrupt HDF5 file: ${heapProblem}`);
    fileBytes = bytes.length;
    h5 = new h5wasm.File(file, 'r');
  } catch (e) {
    if (e instanceof KerasH5Error) throw e;
    return fail(`cannot open as HDF5: ${(e as Error).message}`);
  }
  let reading = 'the root group'; // where an h5wasm failure (a corrupt object header, an abort) happened
  try {
    let root: InstanceType<typeof h5wasm.Group> = h5;
    const nested = h5.get('model_weights');
    if (!h5.attrs['layer_names'] && nested instanceof h5wasm.Group) root = nested;
    const layerAttr = root.attrs['layer_names'];
    if (!layerAttr) fail("no root attribute 'layer_names' (not a Keras weight file?)");
    const layerNames = strings(layerAttr!.value) ?? fail("root attribute 'layer_names' is not a list of strings");
    const tensors = new Map<string, KerasH5Entry>();
    for (const layer of layerNames) {
      reading = `layer '${layer}'`;
      const group = root.get(layer);
      if (!(group instanceof h5wasm.Group)) fail(`layer '${layer}' is listed in layer_names but has no group`);
      const g = group as InstanceType<typeof h5wasm.Group>;
      const attr = g.attrs['weight_names'];
      if (!attr) fail(`layer '${layer}': no attribute 'weight_names'`);
      const raw = attr!.value;
      const weightNames = ArrayBuffer.isView(raw) && (raw as ArrayLike<unknown>).length === 0 ? [] : (strings(raw) ?? fail(`layer '${layer}': attribute 'weight_names' is not a list of strings`));
      for (const weightName of weightNames) {
        const dataset = g.get(weightName);
        if (!(dataset instanceof h5wasm.Dataset)) fail(`layer '${layer}': weight_names entry '${weightName}' has no dataset at '${layer}/${weightName}'`);
        const d = dataset as InstanceType<typeof h5wasm.Dataset>;
        const where = `layer '${layer}', dataset '${layer}/${weightName}'`;
        reading = where;
        const meta = d.metadata;
        if (meta.type !== h5Float || ![2, 4, 8].includes(meta.size)) fail(`${where}: dtype '${String(d.dtype)}' is not a float (need f16, f32 or f64)`);
        const shape = [...(d.shape ?? [])];
        // Checked before h5wasm allocates the values: contiguous data must fit in the file, and
        // chunked (possibly deflated) data cannot exceed deflate's ~1032:1 ratio.
        const declared = shape.reduce((a, b) => a * b, 1) * meta.size;
        if (declared > (meta.chunks ? 1032 * fileBytes : fileBytes)) fail(`${where}: shape [${shape.join(', ')}] needs ${declared} bytes but the file has ${fileBytes}`);
        const value = d.value as unknown;
        let data: Float32Array;
        if (meta.size === 2 && value instanceof Uint16Array) data = Float32Array.from(value, halfToFloat);
        else if (ArrayBuffer.isView(value)) data = Float32Array.from(value as unknown as ArrayLike<number>);
        else if (typeof value === 'number') data = Float32Array.of(value);
        else data = fail(`${where}: cannot read its values`);
        const count = shape.reduce((a, b) => a * b, 1);
        if (data.length !== count) fail(`${where}: ${data.length} values for shape [${shape.join(', ')}]`);
        const name = weightName.replace(/:\d+$/, '');
        if (tensors.has(name)) fail(`${where}: weight '${name}' appears twice`);
        tensors.set(name, { data, shape, stored: String(d.dtype) });
      }
    }
    return { layerNames, tensors };
  } catch (e) {
    if (e instanceof KerasH5Error) throw e;
    return fail(`HDF5 read failed at ${reading}: ${(e as Error).message}`);
  } finally {
    try {
      h5.close();
    } catch {
      // After h5wasm aborted on a corrupt file, closing it can abort too: the read's own error stands.
    }
  }
}

/**
 * Loads a keras.applications MobileNetV2 `.h5` weight file into a graft MobileNetV2 (build it with
 * flavour 'keras') through the same mapping as loadKerasMobileNetV2. Strict by default: weights
 * outside the mapping (e.g. `Logits` into a model without a top) are unexpected keys.
 */
export async function loadKerasH5MobileNetV2(model: Module, file: string, { strict = true }: { strict?: boolean } = {}): Promise<LoadResult> {
  const { tensors } = await readKerasH5(file);
  return loadKerasMobileNetV2(model, tensors, { strict });
}

/**
 * Loads a keras.applications ResNet50/101/152 `.h5` weight file (with or without top) into a graft
 * KerasResNet through resnetKeras' name mapping. Strict by default: `predictions` into a model
 * without a top, or any weight outside the mapping, is an unexpected key.
 */
export async function loadKerasH5ResNet(model: Module, file: string, { strict = true }: { strict?: boolean } = {}): Promise<LoadResult> {
  const { tensors } = await readKerasH5(file);
  return loadKerasResNet(model, tensors, { strict });
}
