/**
 * The two models of the benchmark, each as a graft backbone and its tfjs-layers peer holding the same
 * weights, and which blocks the "last stages unfrozen" regime trains on each side:
 *   - MobileNetV2 (alpha 1.0): nsfwjs' Keras weights on both sides; last stages = graft's last 3 units
 *     (features.16, features.17, features.18) = Keras' block_15_*, block_16_*, Conv_1*.
 *   - ResNet-50: random weights made by tfjs-layers, copied into graft's kerasResNet; last stages =
 *     graft's layer4 = Keras' conv5_*.
 */
import type { Gpu } from '@graft/kernels';
import type * as tfjs from '@tensorflow/tfjs';
import type { Layer, Module } from '@graft/autograd';
import { kerasResNet, loadKerasResNet, loadPretrained, mobilenetV2 } from '@graft/models';
import { kerasResNet50, kerasWeights, nsfwjsMobileNetV2, writeNsfwjsFolder, type TfAll } from './peers.js';

export interface ModelPair {
  graft: Module & Layer;
  /** One tfjs-layers model per input size (a tfjs-layers model's input size is fixed), same weights. */
  tfjs: Map<number, tfjs.LayersModel>;
  dispose(): void;
}

export interface ModelSpec {
  name: string;
  key: 'mobilenet_v2' | 'resnet50';
  numFeatures: number;
  lastUnits: number;
  lastLayers: RegExp;
  lastLabel: string;
  setup(gpu: Gpu, tf: TfAll, sizes: readonly number[]): Promise<ModelPair>;
  /** The graft backbone alone (no tfjs peer), in inference mode, for the graft-only cases (memory over steps, fits). */
  graftOnly(gpu: Gpu): Promise<Module & Layer>;
}

/** MobileNetV2 with nsfwjs' Keras weights (its Dense head, not part of the backbone, left out by a non-strict load). */
async function nsfwjsGraft(gpu: Gpu): Promise<Module & Layer> {
  const graft = mobilenetV2(gpu, { flavour: 'keras', includeTop: false });
  await loadPretrained(graft, writeNsfwjsFolder(), { strict: false, warn: () => {} });
  return graft.eval();
}

function disposeAll(models: Iterable<tfjs.LayersModel>): void {
  for (const m of models) {
    try {
      m.dispose();
    } catch {
      // models of one family share nothing, but a model already disposed is not an error here
    }
  }
}

export const models: ModelSpec[] = [
  {
    name: 'MobileNetV2 1.0',
    key: 'mobilenet_v2',
    numFeatures: 1280,
    lastUnits: 3,
    lastLayers: /^(block_15_|block_16_|Conv_1)/,
    lastLabel: 'features.16-18 / block_15, block_16, Conv_1',
    async setup(gpu, tf, sizes) {
      const graft = await nsfwjsGraft(gpu);
      const peers = new Map<number, tfjs.LayersModel>();
      for (const size of sizes) peers.set(size, await nsfwjsMobileNetV2(tf, size));
      return { graft, tfjs: peers, dispose: () => (graft.release(), disposeAll(peers.values())) };
    },
    graftOnly: nsfwjsGraft,
  },
  {
    name: 'ResNet-50',
    key: 'resnet50',
    numFeatures: 2048,
    lastUnits: 1,
    lastLayers: /^conv5_/,
    lastLabel: 'layer4 / conv5',
    async setup(gpu, tf, sizes) {
      const peers = new Map<number, tfjs.LayersModel>();
      for (const size of sizes) peers.set(size, kerasResNet50(tf, size));
      const [first, ...rest] = [...peers.values()];
      for (const m of rest) m.setWeights(first!.getWeights());
      const graft = kerasResNet(gpu, { includeTop: false });
      loadKerasResNet(graft, await kerasWeights(first!));
      graft.eval();
      return { graft, tfjs: peers, dispose: () => (graft.release(), disposeAll(peers.values())) };
    },
    // Random weights (kerasResNet's own initialisation): what fits does not depend on the values.
    graftOnly: async (gpu) => kerasResNet(gpu, { includeTop: false }).eval(),
  },
];
