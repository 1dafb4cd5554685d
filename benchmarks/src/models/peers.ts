/**
 * The TensorFlow.js peers of the model benchmarks, as tfjs-layers models ending in global average
 * pooling (the features graft's backbones return with includeTop: false):
 *   - MobileNetV2: the real Keras MobileNetV2 nsfwjs@4.4.0 ships (uint8-quantized weights, dequantized
 *     on load), cut at out_relu. nsfwjs bundles model.json and its shard as JS modules; they are
 *     written back out as a standard TF.js layers folder, which graft's loadPretrained reads too, so
 *     both run the same weights.
 *   - ResNet-50: keras.applications' ResNet50 (v1: the stride on the first 1x1) built layer by layer,
 *     randomly initialised; graft's kerasResNet gets the same weights copied over (kerasWeights).
 * The input size is part of a tfjs-layers model, so each size is its own model (same weights).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tfjs from '@tensorflow/tfjs';

import type { TfAll } from '../peer.js';
export type { TfAll };
type LayersModel = tfjs.LayersModel;
type SymbolicTensor = tfjs.SymbolicTensor;

const require = createRequire(import.meta.url);
const nsfwDir = fileURLToPath(new URL('../../../packages/models/node_modules/nsfwjs/dist/models/mobilenet_v2', import.meta.url));

interface ModelJson {
  modelTopology: { model_config: { config: { layers: { name: string; class_name: string; config: Record<string, unknown> }[]; output_layers: unknown[] } } };
  weightsManifest: { paths: string[]; weights: tfjs.io.WeightsManifestEntry[] }[];
}

function nsfwjsModel(): { json: ModelJson; shard: Uint8Array } {
  const json = require(join(nsfwDir, 'model.min.js')) as ModelJson;
  const shard = new Uint8Array(Buffer.from(require(join(nsfwDir, 'group1-shard1of1.min.js')) as string, 'base64'));
  return { json, shard };
}

/** nsfwjs' model as a TF.js layers folder (model.json + shard) in a temp dir: what graft's loadPretrained reads. */
export function writeNsfwjsFolder(): string {
  const { json, shard } = nsfwjsModel();
  const dir = mkdtempSync(join(tmpdir(), 'graft-bench-nsfwjs-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  writeFileSync(join(dir, json.weightsManifest[0]!.paths[0]!), shard);
  return dir;
}

/**
 * nsfwjs' Keras MobileNetV2 up to out_relu, plus global average pooling, at size x size. Its own head
 * (a 7x7 AveragePooling2D, Flatten, Dense layers) is cut from the topology: the pool does not fit a
 * 160 input, and the benchmark's head is a new Dense anyway. Its weights are left unused (strict: false).
 */
export async function nsfwjsMobileNetV2(tf: TfAll, size: number): Promise<LayersModel> {
  const { json, shard } = nsfwjsModel();
  const topology = structuredClone(json.modelTopology);
  const config = topology.model_config.config;
  const cut = config.layers.findIndex((l) => l.name === 'out_relu');
  if (cut < 0) throw new Error('nsfwjs model has no out_relu layer');
  config.layers = config.layers.slice(0, cut + 1);
  config.output_layers = [['out_relu', 0, 0]];
  const input = config.layers[0]!;
  if (input.class_name !== 'InputLayer') throw new Error(`nsfwjs model's first layer is a ${input.class_name}, not an InputLayer`);
  input.config.batch_input_shape = [null, size, size, 3];
  const trunk = await tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: topology as unknown as tfjs.io.ModelArtifacts['modelTopology'], weightSpecs: json.weightsManifest[0]!.weights, weightData: shard.slice().buffer }),
    { strict: false },
  );
  const pooled = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(trunk.outputs[0]!) as SymbolicTensor;
  return tf.model({ inputs: trunk.inputs, outputs: pooled, name: `mobilenetv2_${size}` });
}

/**
 * keras.applications.resnet.ResNet50(include_top=False, pooling='avg') at size x size, random weights:
 * Keras' Glorot-uniform kernels, seeded per layer so every run (and every size) gets the same values,
 * and run-to-run differences in the suite are the machine's, not the weights'.
 */
export function kerasResNet50(tf: TfAll, size: number): LayersModel {
  const L = tf.layers;
  let seed = 0;
  const bn = (name: string) => L.batchNormalization({ axis: 3, epsilon: 1.001e-5, name });
  const conv = (filters: number, kernelSize: number, name: string, strides = 1, padding: 'valid' | 'same' = 'valid') =>
    L.conv2d({ filters, kernelSize, strides, padding, useBias: true, name, kernelInitializer: tf.initializers.glorotUniform({ seed: ++seed }) });
  const relu = (name: string) => L.activation({ activation: 'relu', name });
  const apply = (layer: tfjs.layers.Layer, x: SymbolicTensor | SymbolicTensor[]) => layer.apply(x) as SymbolicTensor;

  const block = (x: SymbolicTensor, filters: number, stride: number, convShortcut: boolean, name: string) => {
    const shortcut = convShortcut ? apply(bn(`${name}_0_bn`), apply(conv(4 * filters, 1, `${name}_0_conv`, stride), x)) : x;
    let y = apply(relu(`${name}_1_relu`), apply(bn(`${name}_1_bn`), apply(conv(filters, 1, `${name}_1_conv`, stride), x)));
    y = apply(relu(`${name}_2_relu`), apply(bn(`${name}_2_bn`), apply(conv(filters, 3, `${name}_2_conv`, 1, 'same'), y)));
    y = apply(bn(`${name}_3_bn`), apply(conv(4 * filters, 1, `${name}_3_conv`), y));
    return apply(relu(`${name}_out`), apply(L.add({ name: `${name}_add` }), [shortcut, y]));
  };
  const stack = (x: SymbolicTensor, filters: number, blocks: number, stride: number, name: string) => {
    let y = block(x, filters, stride, true, `${name}_block1`);
    for (let i = 2; i <= blocks; i++) y = block(y, filters, 1, false, `${name}_block${i}`);
    return y;
  };

  const input = tf.input({ shape: [size, size, 3], name: 'input_1' });
  let x = apply(L.zeroPadding2d({ padding: 3, name: 'conv1_pad' }), input);
  x = apply(relu('conv1_relu'), apply(bn('conv1_bn'), apply(conv(64, 7, 'conv1_conv', 2), x)));
  x = apply(L.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1_pool' }), apply(L.zeroPadding2d({ padding: 1, name: 'pool1_pad' }), x));
  x = stack(x, 64, 3, 1, 'conv2');
  x = stack(x, 128, 4, 2, 'conv3');
  x = stack(x, 256, 6, 2, 'conv4');
  x = stack(x, 512, 3, 2, 'conv5');
  const pooled = apply(L.globalAveragePooling2d({ name: 'avg_pool' }), x);
  return tf.model({ inputs: input, outputs: pooled, name: `resnet50_${size}` });
}

/** A tfjs-layers model's weights under their Keras names ('conv1_conv/kernel'), Keras layouts. */
export async function kerasWeights(model: LayersModel): Promise<Map<string, { data: Float32Array; shape: number[] }>> {
  const out = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const w of model.weights) out.set(w.originalName, { data: (await w.read().data()) as Float32Array, shape: [...w.shape] as number[] });
  return out;
}
