import { describe, expect, it } from 'vitest';
import type { FitResult, MemoryOverSteps } from './measure.js';
import { modelMarkdown, type ModelReport } from './report.js';

const MiB = 2 ** 20;

function memory(flat: boolean): MemoryOverSteps {
  const points = [
    { step: 10, bytesInUse: 36 * MiB, buffersCreated: 597 },
    { step: 1000, bytesInUse: (flat ? 36 : 40) * MiB, buffersCreated: flat ? 597 : 640 },
  ];
  return { points, flat, totalMs: 105_800, stepMs: 103.2, firstLoss: 1.6, lastLoss: 0.7 };
}

const fit: FitResult = {
  completed: false,
  error: 'DeviceLimitError: conv2d: binding 1 ([64, 112, 112, 64]) in bytes 205520896 exceeds 134217728',
  stepMs: 90_000,
  beforeBytes: 212 * MiB,
  peakBytes: 4586 * MiB,
  afterBytes: 404 * MiB,
  largestTensor: { bytes: 196 * MiB, shape: [64, 112, 112, 64] },
  largestBinding: { bytes: 196 * MiB, shape: [64, 112, 112, 64], kernel: 'conv2d:main_vec4', binding: 4 },
  limits: { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 4096 * MiB },
};

function report(flat: boolean): ModelReport {
  return {
    date: '2026-11-22T00:00:00.000Z',
    commit: null,
    adapter: { name: 'test adapter', vendor: '', architecture: '', software: true },
    node: 'v20',
    tfjs: null,
    quick: false,
    plan: { warmup: 1, reps: 3 },
    timing: 'wall clock',
    cases: [],
    memoryOverSteps: [{ model: 'MobileNetV2 1.0', regime: 'all', size: 32, batch: 2, steps: 1000, result: memory(flat) }],
    fits: [{ model: 'ResNet-50', regime: 'all', size: 224, batch: 64, result: fit }],
    notMeasured: [],
  };
}

describe('modelMarkdown', () => {
  it('lists memory over steps per checkpoint and marks growth', () => {
    const flat = modelMarkdown(report(true));
    expect(flat).toContain('## Memory over 1,000 steps');
    expect(flat).toContain('| MobileNetV2 1.0 memory over 1000 steps train: everything 32 b2 | 10: 36.00 / 597; 1000: 36.00 / 597 | yes |');
    expect(modelMarkdown(report(false))).toContain('| 10: 36.00 / 597; 1000: 40.00 / 640 | **NO** |');
  });

  it('gives a fit case its outcome, peak, largest tensor and binding against the limits; no empty ratio chart', () => {
    const md = modelMarkdown(report(true));
    expect(md).toContain('| ResNet-50 train: everything b64 224: fits | **no**: DeviceLimitError: conv2d: binding 1');
    expect(md).toContain('| 212 / 4586 / 404 | 196.0 MiB [64, 112, 112, 64] | 196.0 MiB [64, 112, 112, 64] (conv2d:main_vec4 binding 4) | 128.0 MiB / 4096.0 MiB |');
    expect(md).not.toContain('Ratio chart');
  });
});
