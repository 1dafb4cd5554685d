/**
 * The Keras HDF5 reader on tools/fixtures/keras_h5.py's file: the tiny MobileNetV2's weights
 * (mobilenetv2_tiny.py) in exactly keras.applications' layout. Loaded into the keras-flavour
 * MobileNetV2 it must reproduce mobilenetv2_tiny.json's Keras-flavour golden (a float64 run of the
 * same weights with Keras padding and BN eps). keras_h5.py also writes keras_resnet_tiny.py's weights
 * in keras.applications.resnet's layout, with and without top: through loadKerasH5ResNet they must
 * reproduce keras_resnet_tiny.json's logits and pooled features (a float64 torch emulation of Keras'
 * ResNet v1). Error paths on doctored files written with h5wasm.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noGrad, tensor } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { expectClose, testGpu } from '@graft/kernels/testing';
import h5wasm from 'h5wasm/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MobileNetV2, type InvertedResidualRow } from '../mobilenetV2.js';
import { kerasResNet, type KerasResNet } from '../resnetKeras.js';
import { KerasH5Error, loadKerasH5MobileNetV2, loadKerasH5ResNet, readKerasH5 } from './kerasH5.js';

const tolerance = { rtol: 1e-4, atol: 1e-4 };
const fixture = (file: string) => fileURLToPath(new URL(`../../fixtures/${file}`, import.meta.url));
const h5File = fixture('mobilenetv2_tiny_keras.h5');

interface Golden {
  table: InvertedResidualRow[];
  alpha: number;
  numClasses: number;
  input: { shape: number[]; data: number[] };
  keras: { logits: number[]; pooled: number[] };
}
const golden = JSON.parse(readFileSync(fixture('mobilenetv2_tiny.json'), 'utf8')) as Golden;

const dir = mkdtempSync(join(tmpdir(), 'graft-h5-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
  await h5wasm.ready;
});

async function forward(model: MobileNetV2): Promise<Float32Array> {
  const x = tensor(gpu, Float32Array.from(golden.input.data), golden.input.shape);
  const y = noGrad(() => model.forward(x));
  const values = await y.read();
  y.release();
  x.release();
  return values;
}

describe('readKerasH5 on the keras.applications layout', () => {
  it('reads every weight under its Keras name, in Keras layouts', async () => {
    const { layerNames, tensors } = await readKerasH5(h5File);
    expect(layerNames.slice(0, 4)).toEqual(['input_1', 'Conv1', 'bn_Conv1', 'Conv1_relu']);
    expect(tensors.get('Conv1/kernel')!.shape).toEqual([3, 3, 3, 16]);
    expect(tensors.get('Conv1/kernel')!.stored).toBe('<f');
    expect(tensors.get('block_1_depthwise/depthwise_kernel')!.shape).toEqual([3, 3, 48, 1]);
    expect([...tensors.keys()].filter((k) => k.startsWith('bn_Conv1/'))).toEqual(['bn_Conv1/gamma', 'bn_Conv1/beta', 'bn_Conv1/moving_mean', 'bn_Conv1/moving_variance']);
    expect(tensors.get('Logits/kernel')!.shape[1]).toBe(golden.numClasses);
    expect([...tensors.keys()].some((k) => k.includes(':'))).toBe(false);
  });

  it('loads strictly into the keras-flavour MobileNetV2 and reproduces the Keras golden', async () => {
    const model = new MobileNetV2(gpu, { table: golden.table, alpha: golden.alpha, numClasses: golden.numClasses, flavour: 'keras' });
    expect(await loadKerasH5MobileNetV2(model, h5File)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    model.eval();
    expectClose(await forward(model), golden.keras.logits, tolerance, 'keras h5 logits');
    model.release();
  });

  it('without a top: strict throws naming the mapped Logits; non-strict matches the pooled golden', async () => {
    const model = new MobileNetV2(gpu, { table: golden.table, alpha: golden.alpha, numClasses: golden.numClasses, flavour: 'keras', includeTop: false });
    await expect(loadKerasH5MobileNetV2(model, h5File)).rejects.toThrow(/unexpected keys \(2\): classifier\.1\.weight, classifier\.1\.bias/);
    const result = await loadKerasH5MobileNetV2(model, h5File, { strict: false });
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: ['classifier.1.weight', 'classifier.1.bias'] });
    model.eval();
    expectClose(await forward(model), golden.keras.pooled, tolerance, 'keras h5 pooled');
    model.release();
  });
});

interface Entry {
  shape: number[];
  data: number[];
}
interface ResNetGolden {
  widths: [number, number, number, number];
  blocks: [number, number, number, number];
  numClasses: number;
  weights: Record<string, Entry>;
  input: Entry;
  logits: Entry;
  pooled: Entry;
}
const resnetGolden = JSON.parse(readFileSync(fixture('keras_resnet_tiny.json'), 'utf8')) as ResNetGolden;
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('keras.applications ResNet .h5 (keras_resnet_tiny{,_notop}.h5)', () => {
  const build = (includeTop: boolean) => kerasResNet(gpu, { widths: resnetGolden.widths, blocks: resnetGolden.blocks, numClasses: resnetGolden.numClasses, includeTop });
  async function run(model: KerasResNet): Promise<Float32Array> {
    const x = tensor(gpu, Float32Array.from(resnetGolden.input.data), resnetGolden.input.shape);
    const y = noGrad(() => model.forward(x));
    const values = await y.read();
    y.release();
    x.release();
    return values;
  }

  it('reads Keras ResNet names in layer order, the values equal to the golden weights', async () => {
    const { layerNames, tensors } = await readKerasH5(fixture('keras_resnet_tiny.h5'));
    expect(layerNames.slice(0, 8)).toEqual(['input_1', 'conv1_pad', 'conv1_conv', 'conv1_bn', 'conv1_relu', 'pool1_pad', 'pool1_pool', 'conv2_block1_1_conv']);
    expect(layerNames.slice(-2)).toEqual(['avg_pool', 'predictions']);
    expect([...tensors.keys()].sort()).toEqual(Object.keys(resnetGolden.weights).sort());
    for (const [k, v] of Object.entries(resnetGolden.weights)) {
      expect(tensors.get(k)!.shape, k).toEqual(v.shape);
      expect(tensors.get(k)!.data, k).toEqual(Float32Array.from(v.data));
    }
    const notop = await readKerasH5(fixture('keras_resnet_tiny_notop.h5'));
    expect(notop.layerNames.at(-1)).toBe(`conv5_block${resnetGolden.blocks[3]}_out`);
    expect([...notop.tensors.keys()].some((k) => k.startsWith('predictions/'))).toBe(false);
  });

  // The same f32 weights and forward as resnetKeras.test.ts' golden: its 1e-4 tolerance applies.
  it('with top: loads strictly and reproduces the logits', async () => {
    const model = build(true);
    expect(await loadKerasH5ResNet(model, fixture('keras_resnet_tiny.h5'))).toEqual({ missingKeys: [], unexpectedKeys: [] });
    model.eval();
    const logits = await run(model);
    expectClose(logits, resnetGolden.logits.data, tolerance, 'keras resnet h5 logits');
    console.log(`keras_resnet_tiny.h5: max |graft - golden| logits ${maxDiff(logits, resnetGolden.logits.data).toExponential(2)}`);
    model.release();
  });

  it('notop: loads strictly into includeTop false and reproduces the pooled features; the top file is strict-rejected', async () => {
    const model = build(false);
    expect(await loadKerasH5ResNet(model, fixture('keras_resnet_tiny_notop.h5'))).toEqual({ missingKeys: [], unexpectedKeys: [] });
    model.eval();
    const pooled = await run(model);
    expectClose(pooled, resnetGolden.pooled.data, tolerance, 'keras resnet notop h5 pooled');
    console.log(`keras_resnet_tiny_notop.h5: max |graft - golden| pooled ${maxDiff(pooled, resnetGolden.pooled.data).toExponential(2)}`);
    await expect(loadKerasH5ResNet(model, fixture('keras_resnet_tiny.h5'))).rejects.toThrow(/unexpected keys \(2\): fc\.weight, fc\.bias/);
    model.release();
    const top = build(true);
    await expect(loadKerasH5ResNet(top, fixture('keras_resnet_tiny_notop.h5'))).rejects.toThrow(/missing keys \(2\): fc\.weight, fc\.bias/);
    top.release();
  });
});

describe('readKerasH5 errors', () => {
  let n = 0;
  function write(build: (f: InstanceType<typeof h5wasm.File>) => void): string {
    const path = join(dir, `doctored_${n++}.h5`);
    const f = new h5wasm.File(path, 'w');
    build(f);
    f.close();
    return path;
  }

  it('names a file that is not HDF5', async () => {
    const path = join(dir, 'not.h5');
    writeFileSync(path, 'hello');
    await expect(readKerasH5(path)).rejects.toThrow(KerasH5Error);
    await expect(readKerasH5(path)).rejects.toThrow(/not\.h5: cannot open as HDF5/);
  });

  it('names a file without layer_names', async () => {
    const path = write((f) => {
      f.create_group('Conv1');
    });
    await expect(readKerasH5(path)).rejects.toThrow(new RegExp(`${path.replace(/[.]/g, '\\.')}: no root attribute 'layer_names'`));
  });

  it('names a listed layer with no group', async () => {
    const path = write((f) => {
      f.create_attribute('layer_names', ['Conv1']);
    });
    await expect(readKerasH5(path)).rejects.toThrow(/doctored_\d+\.h5: layer 'Conv1' is listed in layer_names but has no group/);
  });

  it('names the layer and dataset of a weight_names entry with no dataset', async () => {
    const path = write((f) => {
      f.create_attribute('layer_names', ['Conv1']);
      const g = f.create_group('Conv1');
      g.create_attribute('weight_names', ['Conv1/kernel:0']);
    });
    await expect(readKerasH5(path)).rejects.toThrow(/doctored_\d+\.h5: layer 'Conv1': weight_names entry 'Conv1\/kernel:0' has no dataset at 'Conv1\/Conv1\/kernel:0'/);
  });

  it('names the layer and dataset of a non-float dataset', async () => {
    const path = write((f) => {
      f.create_attribute('layer_names', ['bn']);
      const g = f.create_group('bn');
      g.create_attribute('weight_names', ['bn/gamma:0']);
      g.create_group('bn').create_dataset({ name: 'gamma:0', data: Int32Array.of(1, 2), shape: [2] });
    });
    await expect(readKerasH5(path)).rejects.toThrow(/doctored_\d+\.h5: layer 'bn', dataset 'bn\/bn\/gamma:0': dtype '<i' is not a float/);
  });

  it('reads f64 datasets as f32', async () => {
    const path = write((f) => {
      f.create_attribute('layer_names', ['d', 'relu']);
      const g = f.create_group('d');
      g.create_attribute('weight_names', ['d/bias:0']);
      g.create_group('d').create_dataset({ name: 'bias:0', data: Float64Array.of(0.5, -2), shape: [2] });
      f.create_group('relu').create_attribute('weight_names', [] as string[]);
    });
    const { tensors } = await readKerasH5(path);
    expect([...tensors.keys()]).toEqual(['d/bias']);
    expect(Array.from(tensors.get('d/bias')!.data)).toEqual([0.5, -2]);
    expect(tensors.get('d/bias')!.stored).toBe('<d');
  });
});
