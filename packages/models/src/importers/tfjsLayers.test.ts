/**
 * The TF.js layers reader on the real pretrained Keras MobileNetV2 shipped by nsfwjs@4.4.0 (uint8
 * quantized): nsfwjs bundles model.json and its shard as JS modules (the JSON object; the shard as
 * base64), so the test writes them back out as a standard model.json + binary shard in a temp dir,
 * reads them with readTfjsLayersModel, loads the backbone into graft's keras-flavour MobileNetV2
 * and compares the pooled out_relu features with TF.js itself (tfjs-layers on the CPU backend,
 * the oracle) on the same seeded input. Also: the reader's error paths on doctored copies.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noGrad, tensor } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { testGpu } from '@graft/kernels/testing';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobilenetV2 } from '../mobilenetV2.js';
import { kerasMobileNetV2Name, kerasMobileNetV2ToGraft, loadKerasMobileNetV2, parseTfjsLayersModel, readTfjsLayersModel, TfjsLayersError, type TfjsModelJson } from './tfjsLayers.js';

const require = createRequire(import.meta.url);
const nsfwDir = fileURLToPath(new URL('../../node_modules/nsfwjs/dist/models/mobilenet_v2', import.meta.url));
const modelJson = require(join(nsfwDir, 'model.min.js')) as TfjsModelJson;
const shard = new Uint8Array(Buffer.from(require(join(nsfwDir, 'group1-shard1of1.min.js')) as string, 'base64'));

const dir = mkdtempSync(join(tmpdir(), 'graft-tfjs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeModel(sub: string, json: unknown, shards: Record<string, Uint8Array>): string {
  const d = join(dir, sub);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'model.json'), JSON.stringify(json));
  for (const [name, bytes] of Object.entries(shards)) writeFileSync(join(d, name), bytes);
  return join(d, 'model.json');
}

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

/** Seeded uniform values in [-1, 1) (MobileNetV2's input range). */
function seeded(n: number, seed = 1234): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

describe('readTfjsLayersModel on nsfwjs MobileNetV2 (uint8)', () => {
  it('reads and dequantizes every weight; maps the backbone and leaves the head unmapped', () => {
    const m = readTfjsLayersModel(writeModel('ok', modelJson, { 'group1-shard1of1': shard }));
    expect(m.tensors.size).toBe(266);
    const conv1 = m.tensors.get('Conv1/kernel')!;
    expect(conv1.shape).toEqual([3, 3, 3, 32]);
    expect(conv1.stored).toBe('uint8');
    const q = modelJson.weightsManifest[0]!.weights[0]!.quantization!;
    expect(conv1.data[0]).toBeCloseTo(shard[0]! * q.scale! + q.min!, 6);
    const { mapped, unmapped } = kerasMobileNetV2ToGraft(m.tensors);
    expect(unmapped.sort()).toEqual(['dense_1/bias', 'dense_1/kernel', 'dense_2/bias', 'dense_2/kernel', 'dense_3/bias', 'dense_3/kernel']);
    expect(mapped.get('features.2.conv.1.0.weight')!.shape).toEqual([3, 3, 96]);
    expect(kerasMobileNetV2Name('expanded_conv_project_BN/moving_variance')).toBe('features.1.conv.2.running_var');
    expect(kerasMobileNetV2Name('block_16_project/kernel')).toBe('features.17.conv.2.weight');
  });

  it('matches TF.js pooled out_relu features at 224x224', async () => {
    const m = readTfjsLayersModel(writeModel('golden', modelJson, { 'group1-shard1of1': shard }));
    const model = mobilenetV2(gpu, { flavour: 'keras', includeTop: false });
    expect(() => loadKerasMobileNetV2(model, m.tensors)).toThrow(/unexpected keys \(6\): .*dense_1\/kernel/);
    const result = loadKerasMobileNetV2(model, m.tensors, { strict: false });
    expect(result.missingKeys).toEqual([]);
    expect(result.unexpectedKeys.sort()).toEqual(['dense_1/bias', 'dense_1/kernel', 'dense_2/bias', 'dense_2/kernel', 'dense_3/bias', 'dense_3/kernel']);
    model.eval();

    const shape = [1, 224, 224, 3];
    const input = seeded(224 * 224 * 3);
    const x = tensor(gpu, input, shape);
    const y = noGrad(() => model.forward(x));
    const ours = await y.read();
    y.release();
    x.release();
    model.release();

    await tf.setBackend('cpu');
    const specs = modelJson.weightsManifest[0]!.weights;
    const keras = await tfl.loadLayersModel(
      tf.io.fromMemory({ modelTopology: modelJson.modelTopology as tf.io.ModelArtifacts['modelTopology'], weightSpecs: specs as tf.io.WeightsManifestEntry[], weightData: shard.slice().buffer }),
    );
    const pooled = tfl.layers.globalAveragePooling2d({}).apply(keras.getLayer('out_relu').output) as tfl.SymbolicTensor;
    const backbone = tfl.model({ inputs: keras.inputs, outputs: pooled });
    const t = tf.tensor4d(input, shape as [number, number, number, number]);
    const expected = (await (backbone.predict(t) as tf.Tensor).data()) as Float32Array;
    expect(ours.length).toBe(1280);
    expect(expected.length).toBe(1280);
    let maxAbs = 0;
    let maxRef = 0;
    for (let i = 0; i < 1280; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(ours[i]! - expected[i]!));
      maxRef = Math.max(maxRef, Math.abs(expected[i]!));
    }
    console.log(`nsfwjs MobileNetV2 pooled features: max |graft - tfjs| = ${maxAbs.toExponential(3)} (max |tfjs| = ${maxRef.toFixed(3)})`);
    // Identical dequantized weights, f32 both sides, different summation orders through 52 convs:
    // measured 1.7e-6 on features up to ~3; 1e-4 leaves headroom while a layout, padding or BN
    // mistake moves features by O(0.1..1).
    expect(maxAbs).toBeLessThan(1e-4);

    // Control: the same weights in the torchvision flavour (symmetric padding, BN eps 1e-5) must
    // miss the oracle, so the agreement above is evidence of the Keras conventions.
    const wrong = mobilenetV2(gpu, { includeTop: false });
    loadKerasMobileNetV2(wrong, m.tensors, { strict: false });
    wrong.eval();
    const x2 = tensor(gpu, input, shape);
    const y2 = noGrad(() => wrong.forward(x2));
    const off = await y2.read();
    y2.release();
    x2.release();
    wrong.release();
    expect(Math.max(...Array.from(off, (v, i) => Math.abs(v - expected[i]!)))).toBeGreaterThan(1e-2);
  }, 120_000);
});

describe('readTfjsLayersModel errors', () => {
  const tiny = (quantization?: unknown): unknown => ({
    modelTopology: {},
    weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'dense/kernel', shape: [2, 2], dtype: 'float32', ...(quantization ? { quantization } : {}) }] }],
  });

  it('names a missing shard file', () => {
    const path = writeModel('missing', modelJson, {});
    expect(() => readTfjsLayersModel(path)).toThrow(TfjsLayersError);
    expect(() => readTfjsLayersModel(path)).toThrow(/model\.json: weightsManifest\[0\]: missing shard file 'group1-shard1of1'/);
  });

  it('names a shard whose byte count does not match the manifest', () => {
    const path = writeModel('short', modelJson, { 'group1-shard1of1': shard.subarray(0, shard.length - 3) });
    expect(() => readTfjsLayersModel(path)).toThrow(new RegExp(`model\\.json: .*'group1-shard1of1' hold ${shard.length - 3} bytes but the manifest's weights need ${shard.length}`));
  });

  it('names the weight with an unknown quantization dtype', () => {
    const path = writeModel('badq', tiny({ dtype: 'int4', scale: 1, min: 0 }), { 'w.bin': new Uint8Array(4) });
    expect(() => readTfjsLayersModel(path)).toThrow(/model\.json: weight 'dense\/kernel': unknown quantization dtype 'int4'/);
  });

  it('decodes float16 and uint16 quantization and float32', () => {
    const h = new Uint8Array(Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x0001]).buffer);
    expect(parseTfjsLayersModel(tiny({ dtype: 'float16' }), () => h).tensors.get('dense/kernel')!.data).toEqual(Float32Array.from([1, -2, 0.333251953125, 2 ** -24]));
    const u = new Uint8Array(Uint16Array.from([0, 1, 2, 65535]).buffer);
    expect(Array.from(parseTfjsLayersModel(tiny({ dtype: 'uint16', scale: 0.5, min: -1 }), () => u).tensors.get('dense/kernel')!.data)).toEqual([-1, -0.5, 0, 32766.5]);
    const f = new Uint8Array(Float32Array.from([1.5, -2, 3, 4]).buffer);
    expect(Array.from(parseTfjsLayersModel(tiny(), () => f).tensors.get('dense/kernel')!.data)).toEqual([1.5, -2, 3, 4]);
  });
});
