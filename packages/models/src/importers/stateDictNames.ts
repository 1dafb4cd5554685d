/**
 * Other libraries' names for the same PyTorch networks -> torchvision's (graft's) names. The tensors
 * and layouts are PyTorch's in every case; only the keys differ, so renaming is all it takes, after
 * which loadTorchStateDict applies as for a torchvision file.
 *
 *   - timm MobileNetV2 (`mobilenetv2_100`, ...): `conv_stem`, `bn1`, `blocks.s.j.{conv_dw,bn1,conv_pw,
 *     bn2}` (the first, depthwise-separable block), `blocks.s.j.{conv_pw,bn1,conv_dw,bn2,conv_pwl,bn3}`
 *     (inverted residuals), `conv_head`, `bn2`, `classifier`. Blocks are numbered per stage; torchvision
 *     numbers them straight through `features`. timm's ResNets already use torchvision's names.
 *   - Hugging Face transformers ResNet (`microsoft/resnet-50`, ...): `resnet.embedder.embedder.
 *     {convolution,normalization}`, `resnet.encoder.stages.s.layers.b.layer.i.{convolution,normalization}`,
 *     `...shortcut.{convolution,normalization}`, `classifier.1`. Same v1.5 structure (stride on the 3x3).
 */
import type { HostEntry } from '@graft/autograd';

export type StateDictConvention = 'torchvision' | 'timm-mobilenetv2' | 'hf-resnet';

/** Which naming convention a state dict uses, from its keys. */
export function stateDictConvention(keys: readonly string[]): StateDictConvention {
  if (keys.some((k) => k.startsWith('conv_stem.')) && keys.some((k) => k.startsWith('blocks.'))) return 'timm-mobilenetv2';
  if (keys.some((k) => k.startsWith('resnet.embedder.'))) return 'hf-resnet';
  return 'torchvision';
}

const timmBnOf: Record<string, Record<string, string>> = {
  // depthwise-separable first block: dw conv + bn, pw conv + bn
  separable: { conv_dw: 'conv.0.0', bn1: 'conv.0.1', conv_pw: 'conv.1', bn2: 'conv.2' },
  // inverted residual: expand + bn, dw + bn, project + bn
  inverted: { conv_pw: 'conv.0.0', bn1: 'conv.0.1', conv_dw: 'conv.1.0', bn2: 'conv.1.1', conv_pwl: 'conv.2', bn3: 'conv.3' },
};

function timmMobileNetV2Name(key: string, featureIndex: Map<string, number>, separable: Set<string>, lastFeature: number): string | undefined {
  const block = /^blocks\.(\d+)\.(\d+)\.([a-z_0-9]+)\.(.+)$/.exec(key);
  if (block) {
    const id = `${block[1]}.${block[2]}`;
    const part = timmBnOf[separable.has(id) ? 'separable' : 'inverted']![block[3]!];
    return part ? `features.${featureIndex.get(id)}.${part}.${block[4]}` : undefined;
  }
  const top = /^(conv_stem|bn1|conv_head|bn2|classifier)\.(.+)$/.exec(key);
  if (!top) return undefined;
  const prefix = { conv_stem: 'features.0.0', bn1: 'features.0.1', conv_head: `features.${lastFeature}.0`, bn2: `features.${lastFeature}.1`, classifier: 'classifier.1' }[top[1]!];
  return `${prefix}.${top[2]}`;
}

function hfResNetName(key: string): string | undefined {
  const stem = /^resnet\.embedder\.embedder\.(convolution|normalization)\.(.+)$/.exec(key);
  if (stem) return `${stem[1] === 'convolution' ? 'conv1' : 'bn1'}.${stem[2]}`;
  const layer = /^resnet\.encoder\.stages\.(\d+)\.layers\.(\d+)\.(?:layer\.(\d+)|(shortcut))\.(convolution|normalization)\.(.+)$/.exec(key);
  if (layer) {
    const [, stage, block, index, shortcut, kind, field] = layer;
    const base = `layer${Number(stage) + 1}.${block}`;
    if (shortcut) return `${base}.downsample.${kind === 'convolution' ? 0 : 1}.${field}`;
    return `${base}.${kind === 'convolution' ? 'conv' : 'bn'}${Number(index) + 1}.${field}`;
  }
  const head = /^classifier\.1\.(weight|bias)$/.exec(key);
  return head ? `fc.${head[1]}` : undefined;
}

/**
 * Renames a timm-MobileNetV2 or Hugging Face ResNet state dict to torchvision's keys (a torchvision
 * one is returned as is). Keys the convention does not know are kept, so a strict load names them.
 */
export function toTorchvisionNames(tensors: Map<string, HostEntry>): { tensors: Map<string, HostEntry>; convention: StateDictConvention } {
  const keys = [...tensors.keys()];
  const convention = stateDictConvention(keys);
  if (convention === 'torchvision') return { tensors, convention };
  let rename: (key: string) => string | undefined;
  if (convention === 'hf-resnet') rename = hfResNetName;
  else {
    // Number timm's (stage, block) pairs straight through, as torchvision's features do (the stem is 0).
    const ids = [...new Set(keys.map((k) => /^blocks\.(\d+)\.(\d+)\./.exec(k)).filter((m) => m !== null).map((m) => `${m[1]}.${m[2]}`))];
    ids.sort((a, b) => {
      const [sa, ja] = a.split('.').map(Number) as [number, number];
      const [sb, jb] = b.split('.').map(Number) as [number, number];
      return sa - sb || ja - jb;
    });
    const featureIndex = new Map(ids.map((id, i) => [id, i + 1]));
    // A block without an expansion conv_pwl is the depthwise-separable first block.
    const separable = new Set(ids.filter((id) => !keys.some((k) => k.startsWith(`blocks.${id}.conv_pwl.`))));
    const lastFeature = ids.length + 1;
    rename = (key) => timmMobileNetV2Name(key, featureIndex, separable, lastFeature);
  }
  const out = new Map<string, HostEntry>();
  for (const [key, entry] of tensors) out.set(rename(key) ?? key, entry);
  return { tensors: out, convention };
}
