/**
 * keras.applications-structured ResNet: tools/fixtures/keras_resnet_tiny.py emulates Keras' ResNet v1 in torch
 * (explicit zero padding + 'valid' convs, stride on the first 1x1, biases, eps 1.001e-5) and writes the weights
 * under Keras names and layouts; here they go through loadKerasResNet and the f32 forward must match.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { noGrad, tensor, type HostEntry, type Tensor } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { expectClose, testGpu } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { KerasBottleneck, KerasResNet, kerasResNet, kerasResNetName, loadKerasResNet } from './resnetKeras.js';

const tolerance = { rtol: 1e-4, atol: 1e-4 };

interface Entry {
  shape: number[];
  data: number[];
}
interface Golden {
  widths: [number, number, number, number];
  blocks: [number, number, number, number];
  numClasses: number;
  weights: Record<string, Entry>;
  input: Entry;
  logits: Entry;
  pooled: Entry;
  v15Logits: Entry;
}

const golden = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/keras_resnet_tiny.json', import.meta.url)), 'utf8')) as Golden;
const kerasTensors = () => new Map<string, HostEntry>(Object.entries(golden.weights).map(([k, v]) => [k, { data: Float32Array.from(v.data), shape: v.shape }]));
const build = (includeTop = true) => kerasResNet(gpu, { widths: golden.widths, blocks: golden.blocks, numClasses: golden.numClasses, includeTop });

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

async function run(f: (x: Tensor) => Tensor): Promise<Float32Array> {
  const x = tensor(gpu, Float32Array.from(golden.input.data), golden.input.shape);
  const y = noGrad(() => f(x));
  const values = await y.read();
  y.release();
  x.release();
  return values;
}

describe('kerasResNetName', () => {
  it('maps Keras weight names onto graft names', () => {
    expect(kerasResNetName('conv1_conv/kernel')).toBe('conv1.weight');
    expect(kerasResNetName('conv1_conv/bias:0')).toBe('conv1.bias');
    expect(kerasResNetName('conv1_bn/moving_variance')).toBe('bn1.running_var');
    expect(kerasResNetName('conv2_block1_0_conv/kernel')).toBe('layer1.0.downsample.0.weight');
    expect(kerasResNetName('conv2_block1_0_bn/gamma')).toBe('layer1.0.downsample.1.weight');
    expect(kerasResNetName('conv4_block23_2_conv/bias')).toBe('layer3.22.conv2.bias');
    expect(kerasResNetName('conv5_block3_3_bn/beta')).toBe('layer4.2.bn3.bias');
    expect(kerasResNetName('conv3_block2_1_bn/moving_mean')).toBe('layer2.1.bn1.running_mean');
    expect(kerasResNetName('predictions/kernel')).toBe('fc.weight');
    expect(kerasResNetName('predictions/bias')).toBe('fc.bias');
    expect(kerasResNetName('dense_1/kernel')).toBeUndefined();
    expect(kerasResNetName('conv2_block1_1_conv/gamma')).toBeUndefined();
    expect(kerasResNetName('conv6_block1_1_conv/kernel')).toBeUndefined();
  });
});

describe('keras_resnet_tiny golden (Keras v1 structure emulated in torch)', () => {
  it('every Keras weight maps onto exactly the model state dict', () => {
    const model = build();
    const mapped = Object.keys(golden.weights).map((k) => kerasResNetName(k));
    expect(mapped.every((k) => k !== undefined)).toBe(true);
    const keys = Object.keys(model.stateDict()).filter((k) => !k.endsWith('num_batches_tracked'));
    expect(new Set(mapped)).toEqual(new Set(keys));
    model.release();
  });

  it('loads strictly through loadKerasResNet and matches logits and pooled features', async () => {
    const model = build();
    expect(loadKerasResNet(model, kerasTensors())).toEqual({ missingKeys: [], unexpectedKeys: [] });
    model.eval();
    const logits = await run((x) => model.forward(x));
    expectClose(logits, golden.logits.data, tolerance, 'keras resnet logits');
    expectClose(await run((x) => model.features(x)), golden.pooled.data, tolerance, 'keras resnet pooled');
    // The golden distinguishes stride placement: the v1.5 logits are far from ours.
    const gap = Math.max(...golden.v15Logits.data.map((v, i) => Math.abs(v - logits[i]!)));
    expect(gap).toBeGreaterThan(1e-3);
    model.release();
  });

  it('a strict load names unexpected, missing and mis-shaped weights; non-strict reports them', () => {
    const model = build(false);
    expect(() => loadKerasResNet(model, kerasTensors())).toThrow(/predictions\/kernel|fc\.weight/);
    const result = loadKerasResNet(model, kerasTensors(), { strict: false });
    expect(result.unexpectedKeys.sort()).toEqual(['fc.bias', 'fc.weight']); // mapped, then unexpected in a model without a top
    expect(result.missingKeys).toEqual([]);
    model.release();

    const full = build();
    const missing = kerasTensors();
    missing.delete('conv3_block1_2_bn/gamma');
    expect(() => loadKerasResNet(full, missing)).toThrow(/layer2\.0\.bn2\.weight/);
    const extra = kerasTensors();
    extra.set('dense_1/kernel', { data: new Float32Array(4), shape: [2, 2] });
    expect(() => loadKerasResNet(full, extra)).toThrow(/dense_1\/kernel/);
    const wrong = kerasTensors();
    wrong.set('conv1_conv/kernel', { data: new Float32Array(3 * 3 * 3 * 4), shape: [3, 3, 3, 4] });
    expect(() => loadKerasResNet(full, wrong)).toThrow(/conv1\.weight/);
    full.release();
  });
});

describe('full-size models', () => {
  // Keras counts BN moving statistics as (non-trainable) parameters.
  const kerasCount = (model: KerasResNet) => Object.entries(model.stateDict()).filter(([k]) => !k.endsWith('num_batches_tracked')).reduce((n, [, t]) => n + t.size, 0);

  it('resnet50 with top has Keras’ 25,636,712 parameters, the stride on the first 1x1 (v1)', () => {
    const model = kerasResNet(gpu, { variant: 'resnet50' });
    expect(kerasCount(model)).toBe(25_636_712);
    const first = model.layer2.at(0) as KerasBottleneck;
    expect(first.conv1.options.stride).toBe(2);
    expect(first.conv2.options.stride ?? 1).toBe(1);
    expect(first.conv1.bias).not.toBeNull();
    expect(model.bn1.options.eps).toBeCloseTo(1.001e-5, 12);
    expect(model.numFeatures).toBe(2048);
    model.release();
  });

  it('resnet101/152 stack tables', () => {
    expect(kerasResNetName('conv4_block23_3_bn/gamma')).toBe('layer3.22.bn3.weight');
    const m = new KerasResNet(gpu, { variant: 'resnet152', widths: [2, 2, 2, 2], includeTop: false });
    expect([m.layer1.length, m.layer2.length, m.layer3.length, m.layer4.length]).toEqual([3, 8, 36, 3]);
    m.release();
    const m101 = new KerasResNet(gpu, { variant: 'resnet101', widths: [2, 2, 2, 2], includeTop: false });
    expect(m101.layer3.length).toBe(23);
    m101.release();
  });
});
