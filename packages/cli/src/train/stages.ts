/**
 * A backbone as an ordered list of stages, so that training can (1) unfreeze "the last N blocks" by
 * name rather than by raw layer index, and (2) run the frozen prefix once, without a graph, and only
 * the trainable suffix with one. The composition of a backbone's stages is exactly its forward, bit
 * for bit (stages.test.ts, every architecture).
 *
 *   MobileNetV2: features.0 (stem), features.1 … features.17 (inverted residuals), features.18 (last 1x1), then
 *                global average pooling. A "block" is one features.i.
 *   ResNet:      stem (conv1, bn1, ReLU, max pool), layer1 … layer4, pooling. A "block" is a stage (layerK).
 *   VGG:         block1 … block5 (the convolutions up to and including each max pool), then pooling.
 */
import { Conv2d, MaxPool2d, Module, type Layer, type Tensor } from '@graft/autograd';
import { MobileNetV2, ResNetTrunk, VGG } from '@graft/models';

export interface Stage {
  /** e.g. 'features.17', 'layer4', 'block5', 'pool'. */
  name: string;
  /** The modules whose parameters this stage owns (empty for pooling). */
  modules: Module[];
  forward(x: Tensor): Tensor;
}

function layerStage(name: string, layer: Layer): Stage {
  return { name, modules: [layer], forward: (x) => layer.forward(x) };
}

function mobileNetV2Stages(model: MobileNetV2): Stage[] {
  const stages: Stage[] = [];
  for (let i = 0; i < model.features.length; i++) stages.push(layerStage(`features.${i}`, model.features.at(i)));
  stages.push(layerStage('pool', model.avgpool));
  return stages;
}

function resNetStages(model: ResNetTrunk): Stage[] {
  return [
    {
      name: 'stem',
      modules: [model.conv1, model.bn1],
      forward: (x) => model.stem(x),
    },
    layerStage('layer1', model.layer1),
    layerStage('layer2', model.layer2),
    layerStage('layer3', model.layer3),
    layerStage('layer4', model.layer4),
    layerStage('pool', model.avgpool),
  ];
}

function vggStages(model: VGG): Stage[] {
  const stages: Stage[] = [];
  let current: Layer[] = [];
  for (let i = 0; i < model.features.length; i++) {
    const layer = model.features.at(i);
    current.push(layer);
    if (layer instanceof MaxPool2d || i === model.features.length - 1) {
      const layers = current;
      stages.push({ name: `block${stages.length + 1}`, modules: layers, forward: (x) => layers.reduce((y, l) => l.forward(y), x) });
      current = [];
    }
  }
  stages.push(layerStage('pool', model.avgpool));
  return stages;
}

/** The stages of a backbone built without its top. */
export function backboneStages(backbone: Module): Stage[] {
  if (backbone instanceof MobileNetV2) return mobileNetV2Stages(backbone);
  if (backbone instanceof ResNetTrunk) return resNetStages(backbone);
  if (backbone instanceof VGG) return vggStages(backbone);
  throw new Error(`backboneStages: no stage table for ${backbone.constructor.name}`);
}

/** The stages that own parameters: what `--unfreeze-last N` counts. */
export function trainableUnits(stages: readonly Stage[]): Stage[] {
  return stages.filter((s) => s.modules.some((m) => m.parameters().length > 0 || m instanceof Conv2d));
}

/** Runs stages [from, to) on x. */
export function runStages(stages: readonly Stage[], x: Tensor, from = 0, to = stages.length): Tensor {
  let y = x;
  for (let i = from; i < to; i++) y = stages[i]!.forward(y);
  return y;
}
