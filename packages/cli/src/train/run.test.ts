/**
 * runTraining end to end on a generated image folder (two separable classes, a corrupt file), with a
 * tiny randomly initialised MobileNetV2 (alpha 0.35, 32 px) so the file runs in seconds: phases,
 * outputs, skipped files, exact resume after an interrupt, a diverging loss, and refusals.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gpu } from '@graft/kernels';
import { testGpu } from '@graft/kernels/testing';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMetrics } from '../report/metrics.js';
import { createProgress } from '../progress.js';
import { defaultTrainConfig, type TrainConfig } from './config.js';
import { NonFiniteLossError } from './loop.js';
import { runTraining, type RunIO } from './run.js';

let gpu: Gpu;
let root: string;
let data: string;

beforeAll(async () => {
  gpu = await testGpu();
  root = mkdtempSync(join(tmpdir(), 'graft-run-'));
  data = join(root, 'data');
  // Class 'dark' is dark with noise, class 'light' light with noise: separable from the pixels.
  for (const [cls, base] of [['dark', 40], ['light', 200]] as const) {
    mkdirSync(join(data, cls), { recursive: true });
    for (let i = 0; i < 8; i++) {
      const pixels = Uint8Array.from({ length: 24 * 24 * 3 }, (_, j) => base + ((j * 7 + i * 13) % 31));
      await sharp(pixels, { raw: { width: 24, height: 24, channels: 3 } }).png().toFile(join(data, cls, `${i}.png`));
    }
  }
  writeFileSync(join(data, 'dark', 'broken.png'), 'not an image');
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

function config(name: string, overrides: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...defaultTrainConfig,
    data,
    runDir: join(root, 'runs', name),
    model: 'mobilenet_v2',
    weights: 'none',
    alpha: 0.35,
    size: 32,
    head: { hidden: [8], dropout: 0.25, activation: 'relu' },
    mode: 'finetune',
    epochs: 2,
    fineTuneEpochs: 2,
    unfreezeLast: 2,
    batchSize: 4,
    valSplit: 0.25,
    workers: 0,
    lr: '1e-2',
    ...overrides,
  };
}

function io(log: string[] = [], interruptAfter?: number): RunIO {
  let epochs = 0;
  return {
    log: (l) => {
      log.push(l);
      if (/epoch \d+:/.test(l)) epochs++;
    },
    warn: (l) => log.push(`WARN ${l}`),
    progress: createProgress({ enabled: false }),
    interrupted: () => interruptAfter !== undefined && epochs >= interruptAfter,
  };
}

describe('runTraining', () => {
  it('runs both phases, skips the corrupt file with a warning, and writes the run folder', async () => {
    const log: string[] = [];
    const result = await runTraining(gpu, config('full'), io(log));
    expect(result.interrupted).toBe(false);
    expect(result.classes).toEqual(['dark', 'light']);
    expect(result.skipped).toBe(1);
    expect(log.filter((l) => l.startsWith('WARN') && l.includes('broken.png'))).toHaveLength(1);
    const records = readMetrics(join(result.runDir, 'metrics.jsonl'));
    expect(records.map((r) => [r.phase, r.epoch])).toEqual([[1, 1], [1, 2], [2, 3], [2, 4]]);
    // Phase 2's groups default to a tenth of phase 1's rate.
    expect(Object.values(records[2]!.lr)).toEqual([1e-3]);
    for (const file of ['config.json', 'report.html', 'curves.png', 'confusion.png', 'checkpoints/final/model.safetensors', 'checkpoints/best/state.json', 'checkpoints/last/optimizer.safetensors']) {
      expect(existsSync(join(result.runDir, file)), file).toBe(true);
    }
    expect(log.some((l) => /phase 2: .*epochs train features\.\d+, features\.\d+/.test(l))).toBe(true);
    expect(result.validation!.predictions.every((p) => Math.abs(p.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-9)).toBe(true);
  }, 120_000);

  it('an interrupted run resumed with --resume ends with the same weights as an uninterrupted one', async () => {
    const straight = await runTraining(gpu, config('straight'), io());
    // Interrupt in phase 2 (after 3 epochs), so the phase, the optimizer state and the dropout seeds must all come back.
    const first = await runTraining(gpu, config('resumed'), io([], 3));
    expect(first.interrupted).toBe(true);
    expect(existsSync(join(first.runDir, 'checkpoints', 'final'))).toBe(false);
    const resumed = await runTraining(gpu, config('resumed'), io(), { resume: true });
    expect(resumed.interrupted).toBe(false);
    const weights = (dir: string) => readFileSync(join(dir, 'checkpoints', 'final', 'model.safetensors'));
    expect(Buffer.compare(weights(straight.runDir), weights(resumed.runDir))).toBe(0);
    expect(readMetrics(join(resumed.runDir, 'metrics.jsonl')).map((r) => r.trainLoss)).toEqual(readMetrics(join(straight.runDir, 'metrics.jsonl')).map((r) => r.trainLoss));
  }, 180_000);

  it('a diverging loss stops the run with a clear message', async () => {
    const run = config('nan', { lr: '1e30', mode: 'extract', epochs: 3 });
    await expect(runTraining(gpu, run, io())).rejects.toThrow(NonFiniteLossError);
    await expect(runTraining(gpu, config('nan2', { lr: '1e30', mode: 'extract', epochs: 3 }), io())).rejects.toThrow(/training loss became (NaN|Infinity|-Infinity).*lower the learning rate/);
  }, 60_000);

  it('refuses to overwrite an earlier run, to resume with another architecture, and an unwritable output folder', async () => {
    await runTraining(gpu, config('arch', { mode: 'extract', epochs: 1 }), io());
    await expect(runTraining(gpu, config('arch', { mode: 'extract', epochs: 1 }), io())).rejects.toThrow(/runs\/arch holds an earlier run: choose another --name, continue it with --resume, or replace it with --overwrite/);
    await expect(runTraining(gpu, config('arch', { mode: 'extract', epochs: 1, alpha: 0.5 }), io(), { resume: true })).rejects.toThrow(/--resume: .*checkpoints\/last was made by another setup/);
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    await expect(runTraining(gpu, config('x', { runDir: join(file, 'run') }), io())).rejects.toThrow(/cannot create the run folder .*a-file\/run/);
  }, 60_000);
});
