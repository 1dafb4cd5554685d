/**
 * The TF.js layers reader on the real pretrained Keras MobileNetV2 shipped by nsfwjs@4.4.0 (uint8
 * quantized): nsfwjs bundles model.json and its shard as JS modules (the JSON object; the shard as
 * base64), so the test writes them back out as a standard model.json + binary shard in a temp dir,
 * reads them with readTfjsLayersModel, loads the backbone into graft's keras-flavour MobileNetV2
 * and compares the pooled out_relu features with TF.js itself (tfjs-layers on the CPU backend,
 * the oracle) on the same seeded input. Then the whole nsfwjs classifier on real images
 * (fixtures/images, public-domain clipart): nsfwjs' Dense head mapped onto a graftHead with
 * loadKerasDenseHead, graft's 5-class probabilities and pooled features against tfjs-layers running
 * the full model. Also: the reader's error paths on doctored copies.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Linear, noGrad, tensor } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { testGpu } from '@graft/kernels/testing';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobilenetV2 } from '../mobilenetV2.js';
import { unzlibSync } from 'fflate';
import { graftHead, withHead } from '../head.js';
import { kerasMobileNet, preprocess } from '../preprocessing.js';
import {
  kerasMobileNetV2Name,
  kerasMobileNetV2ToGraft,
  loadKerasDenseHead,
  loadKerasMobileNetV2,
  parseTfjsLayersModel,
  readTfjsLayersModel,
  TfjsLayersError,
  type TfjsModelJson,
} from './tfjsLayers.js';

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

/**
 * Decodes an 8-bit RGB, non-interlaced PNG (what tools/fixtures/images.py writes): the IDAT chunks
 * concatenated, zlib-inflated (fflate), then each row un-filtered (None, Sub, Up, Average, Paeth).
 */
function decodePng(bytes: Uint8Array, file: string): { width: number; height: number; pixels: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idat: Uint8Array[] = [];
  let width = 0;
  let height = 0;
  for (let at = 8; at < bytes.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      [width, height] = [view.getUint32(at + 8), view.getUint32(at + 12)];
      if (data[8] !== 8 || data[9] !== 2 || data[12] !== 0) throw new Error(`${file}: not 8-bit RGB non-interlaced (bit depth ${data[8]}, colour type ${data[9]}, interlace ${data[12]})`);
    } else if (type === 'IDAT') idat.push(data);
    at += 12 + length;
  }
  const raw = unzlibSync(Uint8Array.from(idat.flatMap((d) => [...d])));
  const stride = width * 3;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= 3 ? pixels[row + i - 3]! : 0;
      const b = y > 0 ? pixels[row - stride + i]! : 0;
      const c = i >= 3 && y > 0 ? pixels[row - stride + i - 3]! : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter];
      if (predictor === undefined) throw new Error(`${file}: row ${y} has unknown filter ${filter}`);
      pixels[row + i] = (src[i]! + predictor) & 0xff;
    }
  }
  return { width, height, pixels };
}

interface ImageIndex {
  images: Record<string, { source: string; shape: number[]; byteSum: number; samples: [number, number, number[]][] }>;
}

describe('nsfwjs on real images: graft vs TF.js running the full model', () => {
  const imageDir = fileURLToPath(new URL('../../fixtures/images/', import.meta.url));
  const index = JSON.parse(readFileSync(join(imageDir, 'images.json'), 'utf8')) as ImageIndex;
  const names = Object.keys(index.images);
  const classes = 5;

  /** The images' decoded pixels, checked against PIL's byte sums and samples (images.json). */
  function images(): Uint8Array[] {
    return names.map((name) => {
      const file = join(imageDir, `${name}.png`);
      const { width, height, pixels } = decodePng(new Uint8Array(readFileSync(file)), file);
      const info = index.images[name]!;
      expect([height, width, 3], name).toEqual(info.shape);
      expect(pixels.reduce((a, b) => a + b, 0), `${name} byte sum`).toBe(info.byteSum);
      for (const [y, x, rgb] of info.samples) expect([...pixels.subarray((y * width + x) * 3, (y * width + x) * 3 + 3)], `${name} (${y}, ${x})`).toEqual(rgb);
      return pixels;
    });
  }

  const softmax = (logits: Float32Array): Float64Array => {
    const out = new Float64Array(logits.length);
    for (let r = 0; r < logits.length; r += classes) {
      const row = Array.from(logits.subarray(r, r + classes));
      const top = Math.max(...row);
      const e = row.map((v) => Math.exp(v - top));
      const sum = e.reduce((a, b) => a + b, 0);
      e.forEach((v, k) => (out[r + k] = v / sum));
    }
    return out;
  };
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

  it('matches the 5-class probabilities and 1280-d pooled features within 1e-4', async () => {
    const pixels = images();
    const shape = [names.length, 224, 224, 3];
    // keras.applications.mobilenet_v2.preprocess_input ('tf' mode): x / 127.5 - 1, what nsfwjs feeds its model.
    const input = preprocess(kerasMobileNet, Float32Array.from(pixels.flatMap((p) => [...p])));

    const m = readTfjsLayersModel(writeModel('images', modelJson, { 'group1-shard1of1': shard }));
    // nsfwjs' head (modelTopology): AveragePooling2D(7) + Flatten at 224 (= global average pooling),
    // Dense(256, relu), Dropout(0.5), Dense(128, relu), Dropout(0.25), Dense(5, softmax). Dropout is
    // identity at inference, so the graft head is graftHead without dropout; softmax is applied to its logits.
    const backbone = mobilenetV2(gpu, { flavour: 'keras', includeTop: false });
    const head = graftHead(gpu, 1280, { hidden: [256, 128], classes });
    const model = withHead(backbone, head);
    const loaded = loadKerasMobileNetV2(backbone, m.tensors, { strict: false });
    expect(loaded.missingKeys).toEqual([]);
    expect(loaded.unexpectedKeys.filter((k) => !k.startsWith('dense_'))).toEqual([]);
    expect(loadKerasDenseHead(head, m.tensors, ['dense_1', 'dense_2', 'dense_3'])).toEqual({ missingKeys: [], unexpectedKeys: [] });
    model.eval();
    const x = tensor(gpu, input, shape);
    const pooledT = noGrad(() => backbone.forward(x));
    const logitsT = noGrad(() => head.forward(pooledT));
    const pooled = await pooledT.read();
    const probs = softmax(await logitsT.read());
    for (const t of [pooledT, logitsT, x]) t.release();
    model.release();

    await tf.setBackend('cpu');
    const keras = await tfl.loadLayersModel(
      tf.io.fromMemory({ modelTopology: modelJson.modelTopology as tf.io.ModelArtifacts['modelTopology'], weightSpecs: modelJson.weightsManifest[0]!.weights as tf.io.WeightsManifestEntry[], weightData: shard.slice().buffer }),
    );
    const both = tfl.model({ inputs: keras.inputs, outputs: [keras.getLayer('flatten_1').output as tfl.SymbolicTensor, keras.outputs[0]!] });
    const t = tf.tensor4d(input, shape as [number, number, number, number]);
    const [pooledRef, probsRef] = await Promise.all((both.predict(t) as tf.Tensor[]).map(async (r) => (await r.data()) as Float32Array));
    t.dispose();
    expect(pooled.length).toBe(names.length * 1280);
    expect(probsRef!.length).toBe(names.length * classes);

    const pooledGap = maxDiff(pooled, pooledRef!);
    const probsGap = maxDiff(probs, probsRef!);
    const rows = names.map((n, i) => `${n} [${Array.from(probsRef!.subarray(i * classes, (i + 1) * classes), (v) => v.toFixed(4)).join(' ')}]`);
    console.log(`nsfwjs on ${names.length} images: max |graft - tfjs| probabilities ${probsGap.toExponential(2)}, pooled ${pooledGap.toExponential(2)} (max |pooled| ${Math.max(...pooledRef!.map(Math.abs)).toFixed(2)}); tfjs probabilities (Drawing Hentai Neutral Porn Sexy): ${rows.join(', ')}`);
    // Same dequantized weights, f32 on both sides, different summation orders (see the seeded test above).
    expect(pooledGap).toBeLessThan(1e-4);
    expect(probsGap).toBeLessThan(1e-4);

    // Small probabilities (down to ~1e-5 here) are checked relatively too: |log p - log p_tfjs|.
    const logGap = Array.from(probsRef!).reduce((m, r, i) => (r > 1e-7 ? Math.max(m, Math.abs(Math.log(probs[i]!) - Math.log(r))) : m), 0);
    console.log(`max |log p_graft - log p_tfjs| ${logGap.toExponential(2)}`);
    expect(logGap).toBeLessThan(1e-4);
    // The images are not all classified alike (argmax differs), so agreement is not one trivial answer.
    const argmax = names.map((_, i) => Array.from(probsRef!.subarray(i * classes, (i + 1) * classes)).reduce((b, v, k, row) => (v > row[b]! ? k : b), 0));
    expect(new Set(argmax).size, `argmax per image: ${argmax.join(', ')}`).toBeGreaterThan(1);

    // Control that must miss: the same weights in the torchvision flavour (symmetric padding, eps 1e-5).
    const wrongBackbone = mobilenetV2(gpu, { includeTop: false });
    const wrongHead = graftHead(gpu, 1280, { hidden: [256, 128], classes });
    const wrong = withHead(wrongBackbone, wrongHead);
    loadKerasMobileNetV2(wrongBackbone, m.tensors, { strict: false });
    loadKerasDenseHead(wrongHead, m.tensors, ['dense_1', 'dense_2', 'dense_3']);
    wrong.eval();
    const x2 = tensor(gpu, input, shape);
    const y2 = noGrad(() => wrong.forward(x2));
    const off = softmax(await y2.read());
    y2.release();
    x2.release();
    wrong.release();
    console.log(`control (torchvision-flavour backbone): max |graft - tfjs| probabilities ${maxDiff(off, probsRef!).toExponential(2)}`);
    expect(maxDiff(off, probsRef!)).toBeGreaterThan(1e-3);
  }, 240_000);
});

describe('loadKerasDenseHead', () => {
  const kernel = { data: Float32Array.from([1, 2, 3, 4, 5, 6]), shape: [2, 3] }; // Keras [in 2, out 3]
  const bias = { data: Float32Array.from([7, 8, 9]), shape: [3] };

  it('transposes a Dense kernel [in, out] onto Linear [out, in], pairing layers in order', async () => {
    const head = graftHead(gpu, 2, { classes: 3, dropout: 0.5 }); // [Dropout, Linear]: the Linear is '1'
    expect(loadKerasDenseHead(head, new Map([['d/kernel', kernel], ['d/bias', bias]]), ['d'])).toEqual({ missingKeys: [], unexpectedKeys: [] });
    const linear = head.at(1) as Linear;
    expect(Array.from(await linear.weight.read())).toEqual([1, 4, 2, 5, 3, 6]);
    expect(Array.from(await linear.bias!.read())).toEqual([7, 8, 9]);
    head.release();
  });

  it('names a count mismatch, a missing weight and a mis-shaped kernel', () => {
    const head = graftHead(gpu, 2, { hidden: [3], classes: 3 });
    const tensors = new Map([['d/kernel', kernel], ['d/bias', bias]]);
    expect(() => loadKerasDenseHead(head, tensors, ['d'])).toThrow(/the head has 2 Linear layers \(0, 2\) but 1 Keras Dense layers were given \(d\)/);
    expect(() => loadKerasDenseHead(head, tensors, ['d', 'e'])).toThrow(/no weight 'e\/kernel' for Linear '2\.weight'/);
    expect(() => loadKerasDenseHead(head, new Map([...tensors, ['e/kernel', kernel], ['e/bias', bias]]), ['d', 'e'])).toThrow(/2\.weight/); // [3, 2] where [3, 3] is expected
    head.release();
  });
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
