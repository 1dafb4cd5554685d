/**
 * keras.applications' VGG16/19 weights onto graft's VGG. The architectures compute the same thing —
 * 3x3 convs with 'same' padding at stride 1 (symmetric in both frameworks), ReLU, 2x2/2 max pools —
 * so no flavour is needed; only names and layouts differ, plus the top:
 *   - `block{b}_conv{i}` (b counts max pools + 1, i the conv within the block) -> `features.N`, where N
 *     is the conv's index in graft's Sequential; `kernel` HWIO is graft's layout already.
 *   - `fc1`, `fc2`, `predictions` -> `classifier.0`, `.3`, `.6`; Dense kernels [in, out] -> [out, in].
 *     Keras flattens NHWC, as graft does, so fc1's columns are already in graft's order: these weights
 *     go through loadStateDict directly, not loadTorchStateDict (which would permute them as it must
 *     for torchvision's NCHW flatten). Keras' top ends in a softmax; graft's VGG returns the logits.
 */
import { AutogradError, Conv2d, MaxPool2d, type HostEntry, type LoadResult, type Module } from '@graft/autograd';
import { VGG } from './vgg.js';

const denseLayers: Record<string, string> = { fc1: 'classifier.0', fc2: 'classifier.3', predictions: 'classifier.6' };

/** Keras layer name -> graft module path for `model`'s feature convs (`block2_conv1` -> `features.5`). */
function convPaths(model: VGG): Map<string, string> {
  const paths = new Map<string, string>();
  let block = 1;
  let conv = 1;
  for (let index = 0; index < model.features.length; index++) {
    const layer = model.features.at(index);
    if (layer instanceof Conv2d) paths.set(`block${block}_conv${conv++}`, `features.${index}`);
    else if (layer instanceof MaxPool2d) {
      block++;
      conv = 1;
    }
  }
  return paths;
}

function transpose2d(entry: HostEntry): HostEntry {
  const [rows, cols] = entry.shape as [number, number];
  const out = new Float32Array(entry.data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = entry.data[r * cols + c]!;
  return { data: out, shape: [cols, rows] };
}

/**
 * Keras VGG weights (by Keras name, e.g. from readKerasH5: `block1_conv1/kernel`) -> graft names and
 * layouts; weights that are not VGG's keep their Keras names (so a strict load names them).
 */
export function kerasVggToGraft(model: VGG, tensors: Map<string, HostEntry>): Map<string, HostEntry> {
  const convs = convPaths(model);
  const out = new Map<string, HostEntry>();
  for (const [name, entry] of tensors) {
    const slash = name.lastIndexOf('/');
    const layer = name.slice(0, slash);
    const field = name.slice(slash + 1);
    const path = convs.get(layer) ?? denseLayers[layer];
    if (!path || (field !== 'kernel' && field !== 'bias')) {
      out.set(name, entry);
      continue;
    }
    const isDenseKernel = layer in denseLayers && field === 'kernel';
    if (isDenseKernel && entry.shape.length !== 2) throw new AutogradError(`kerasVggToGraft: '${name}' is a Dense kernel but has shape [${entry.shape.join(', ')}], not [in, out]`);
    out.set(`${path}.${field === 'kernel' ? 'weight' : 'bias'}`, isDenseKernel ? transpose2d(entry) : entry);
  }
  return out;
}

/** Loads keras.applications VGG weights into a graft VGG (strict by default; see the file comment). */
export function loadKerasVgg(model: Module, tensors: Map<string, HostEntry>, { strict = true }: { strict?: boolean } = {}): LoadResult {
  if (!(model instanceof VGG)) throw new AutogradError(`loadKerasVgg: expected a VGG, got ${model.constructor.name}`);
  return model.loadStateDict(kerasVggToGraft(model, tensors), { strict });
}
