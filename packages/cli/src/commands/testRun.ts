/**
 * Test fixtures for the commands that read runs: tiny image folders of separable classes and a run
 * trained on them in a few seconds (MobileNetV2 x0.35 at 32 px from random weights, head only).
 * Only tests import this file.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGpu, type Gpu } from '@graft/kernels';
import { mobilenetV2, torchStateDict, writeSafetensors } from '@graft/models';
import sharp from 'sharp';
import { vi } from 'vitest';
import { main } from '../main.js';
import { defaultTrainConfig, type TrainConfig } from '../train/config.js';
import { runTraining, type RunIO } from '../train/run.js';

export const testColours: Record<string, [number, number, number]> = { blue: [20, 40, 230], green: [30, 220, 40], red: [230, 30, 30] };

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `graft-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One PNG of a colour with a little per-image noise, so no two files are byte-identical. */
export async function writeImage(path: string, [r, g, b]: [number, number, number], seed: number, size = 40): Promise<void> {
  const pixels = Buffer.alloc(size * size * 3);
  for (let i = 0; i < size * size; i++) {
    const jitter = ((i * 7919 + seed * 104729) % 31) - 15;
    pixels[3 * i] = Math.max(0, Math.min(255, r + jitter));
    pixels[3 * i + 1] = Math.max(0, Math.min(255, g - jitter));
    pixels[3 * i + 2] = Math.max(0, Math.min(255, b + jitter));
  }
  await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toFile(path);
}

/** root/<class>/<i>.png for each class, `perClass` images each. */
export async function writeImageFolder(root: string, classes: string[], perClass: number, offset = 0): Promise<string[]> {
  const paths: string[] = [];
  for (const name of classes) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const path = join(root, name, `${i + offset}.png`);
      await writeImage(path, testColours[name]!, i + offset);
      paths.push(path);
    }
  }
  return paths;
}

export function writeCorrupt(path: string): void {
  writeFileSync(path, 'this is not an image');
}

/**
 * A MobileNetV2 x0.35 backbone's random weights as a .safetensors file: a stand-in for pretrained
 * weights, with a content hash. PyTorch's default init (variance 1 / (3 fan_in)) shrinks activations
 * about 3x a layer, so after 50 layers in inference mode every image gives ~1e-9 features; scaling
 * the convolutions by sqrt(6) (He's variance 2 / fan_in) keeps images apart, so heads can learn.
 */
export async function writeTinyWeights(gpu: Gpu, path: string, gain = Math.sqrt(6)): Promise<void> {
  const backbone = mobilenetV2(gpu, { includeTop: false, flavour: 'torchvision', alpha: 0.35 });
  try {
    const state = await torchStateDict(backbone);
    for (const [name, entry] of state) if (name.endsWith('.weight') && entry.shape.length === 4) entry.data = entry.data.map((v) => v * gain);
    writeSafetensors(path, state);
  } finally {
    backbone.release();
  }
}

const quietIO: RunIO = { log() {}, warn() {}, progress: { start() {}, update() {}, stop() {} } };

/** Trains a tiny run (head only, a few epochs) on `data` into `runDir`, from writeTinyWeights' weights (written beside the run). */
/** trainTinyRun on a device of its own, destroyed afterwards (a test file's beforeAll). */
export async function trainTinyRunOnOwnDevice(data: string, runDir: string, overrides: Partial<TrainConfig> = {}): Promise<void> {
  const gpu = await createGpu();
  try {
    await trainTinyRun(gpu, data, runDir, overrides);
  } finally {
    gpu.destroy();
  }
}

export async function trainTinyRun(gpu: Gpu, data: string, runDir: string, overrides: Partial<TrainConfig> = {}): Promise<void> {
  const weights = `${runDir}-weights.safetensors`;
  await writeTinyWeights(gpu, weights);
  const config: TrainConfig = {
    ...defaultTrainConfig,
    data,
    runDir,
    model: 'mobilenet_v2',
    weights,
    alpha: 0.35,
    size: 32,
    epochs: 5,
    mode: 'extract',
    batchSize: 8,
    lr: '1e-2',
    head: { hidden: [], dropout: 0, activation: 'relu' },
    valSplit: 0.2,
    workers: 0,
    ...overrides,
  };
  await runTraining(gpu, config, quietIO);
}

/** Runs the CLI in-process and captures its output and exit code. */
export async function runCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const previous = process.exitCode;
  process.exitCode = undefined;
  let code: number;
  try {
    code = await main(['node', 'graft', ...args]);
    if (code === 0 && process.exitCode !== undefined) code = Number(process.exitCode);
  } finally {
    vi.restoreAllMocks();
    process.exitCode = previous;
  }
  // picocolors colours output when it sees CI=true or a terminal: compare the text, not the escapes.
  const plain = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');
  return { code, stdout: plain(stdout), stderr: plain(stderr) };
}
