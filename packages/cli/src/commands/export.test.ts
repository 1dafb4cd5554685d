import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGpu } from '@graft/kernels';
import { preprocess, readSafetensors } from '@graft/models';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../data/index.js';
import { softmaxRow } from '../train/loop.js';
import { openRun } from '../train/openRun.js';
import { runCli, tempDir, trainTinyRunOnOwnDevice, writeImageFolder } from './testRun.js';

const classes = ['blue', 'green', 'red'];
const { dir, cleanup } = tempDir('export');
const run = join(dir, 'run');
let images: string[] = [];

beforeAll(async () => {
  await writeImageFolder(join(dir, 'train'), classes, 6);
  images = await writeImageFolder(join(dir, 'photos'), classes, 2, 100);
  await trainTinyRunOnOwnDevice(join(dir, 'train'), run);
});
afterAll(cleanup);

/** The run's own input pipeline (decode, resize + centre crop, preprocessing) as NCHW, the ONNX model's layout. */
async function onnxInput(): Promise<{ data: Float32Array; h: number; w: number }> {
  const gpu = await createGpu();
  const opened = await openRun(gpu, run);
  opened.gm.release();
  gpu.destroy();
  const [h, w] = opened.spec.size;
  const data = new Float32Array(images.length * 3 * h * w);
  for (const [b, path] of images.entries()) {
    const hwc = preprocess(opened.preprocessing, Float32Array.from(await decodeImage({ kind: 'file', path }, opened.spec)));
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[((b * 3 + c) * h + y) * w + x] = hwc[(y * w + x) * 3 + c]!;
  }
  return { data, h, w };
}

describe('graft export', () => {
  it('--format onnx: onnxruntime-node gives the probabilities graft predict gives', async () => {
    const out = join(dir, 'onnx', 'model.onnx');
    const exported = await runCli('export', run, '--format', 'onnx', '--out', out, '--json');
    expect(exported.code).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ format: 'onnx', out, classes, inputSize: [32, 32] });

    const predicted = await runCli('predict', run, ...images, '--format', 'json', '--top-k', '3');
    expect(predicted.code).toBe(0);
    const graft = JSON.parse(predicted.stdout).predictions as { path: string; top: { class: string; probability: number }[] }[];

    const { data, h, w } = await onnxInput();
    const session = await ort.InferenceSession.create(out);
    const result = await session.run({ input: new ort.Tensor('float32', data, [images.length, 3, h, w]) });
    await session.release();
    const logits = result.logits!.data as Float32Array;
    expect(result.logits!.dims).toEqual([images.length, 3]);
    let agreeing = 0;
    for (const [i, path] of images.entries()) {
      const probabilities = softmaxRow(logits, 3 * i, 3);
      const mine = graft.find((p) => p.path === path)!;
      // f32 through ~50 layers on two backends (WebGPU vs ORT's CPU kernels): 1e-4 on probabilities.
      for (const t of mine.top) expect(Math.abs(probabilities[classes.indexOf(t.class)]! - t.probability), `${path} ${t.class}`).toBeLessThan(1e-4);
      if (classes[probabilities.indexOf(Math.max(...probabilities))] === mine.top[0]!.class) agreeing++;
    }
    expect(agreeing).toBe(images.length);
  });

  it('--format safetensors: model.safetensors with backbone.* and head.*, config.json with classes and preprocessing', async () => {
    const out = join(dir, 'st');
    const { code, stdout } = await runCli('export', run, '--format', 'safetensors', '--out', out);
    expect(code).toBe(0);
    expect(stdout).toContain(`wrote ${out}`);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ format: 'graft-export', architecture: 'mobilenet_v2', flavour: 'torchvision', classNames: classes });
    expect(config.preprocessing.mean).toHaveLength(3);
    expect(config.graft).toMatchObject({ alpha: 0.35, inputSize: [32, 32], head: { hidden: [] } });
    const tensors = readSafetensors(join(out, 'model.safetensors'));
    const names = [...tensors.keys()];
    expect(names.some((n) => n.startsWith('backbone.features.'))).toBe(true);
    expect(tensors.get('head.weight') ?? tensors.get('head.0.weight')).toMatchObject({ shape: [3, 1280] });
  });

  it('defaults --out into the run folder, and fails in one line without a checkpoint', async () => {
    expect((await runCli('export', run)).code).toBe(0);
    expect(existsSync(join(run, 'export', 'model.safetensors'))).toBe(true);
    const bare = join(dir, 'bare');
    mkdirSync(bare);
    copyFileSync(join(run, 'config.json'), join(bare, 'config.json'));
    const r = await runCli('export', bare, '--format', 'onnx');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/RunFolderError: .*no checkpoint/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect((await runCli('export', run, '--format', 'tflite')).code).toBe(2);
    expect((await runCli('export', '--help')).stdout).toContain('Examples:');
  });
});
