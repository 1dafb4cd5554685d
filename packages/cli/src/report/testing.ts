/** A small synthetic two-phase run for the report's tests (no training needed to draw its charts). */
import type { EpochRecord } from './metrics.js';
import type { ReportInput } from './html.js';
import type { SamplePrediction } from './samples.js';

export const syntheticClasses = ['cat', 'dog', 'bird <&>'];

/** Phase 1 for epochs 1..phase1Epochs, phase 2 after: accuracy rises, loss falls, with a step at the unfreeze. */
export function syntheticRecords(phase1Epochs = 4, phase2Epochs = 3): EpochRecord[] {
  const records: EpochRecord[] = [];
  for (let epoch = 1; epoch <= phase1Epochs + phase2Epochs; epoch++) {
    const phase = epoch <= phase1Epochs ? 1 : 2;
    const progress = epoch / (phase1Epochs + phase2Epochs);
    records.push({
      phase,
      epoch,
      trainLoss: 1.2 - 0.9 * progress,
      trainAccuracy: 0.45 + 0.5 * progress,
      valLoss: 1.3 - 0.8 * progress + (phase === 2 ? -0.1 : 0),
      valAccuracy: 0.4 + 0.45 * progress + (phase === 2 ? 0.05 : 0),
      lr: phase === 1 ? { head: 1e-3 } : { head: 1e-4, backbone: 1e-5 },
      seconds: 12.5,
      trainImagesPerSecond: 40,
      dataImagesPerSecond: 400,
    });
  }
  return records;
}

export const syntheticConfusion = [
  [5, 1, 0],
  [2, 6, 1],
  [0, 0, 4],
];

/** Small RGB images, each a distinct colour gradient; every third one is a confident mistake. */
export function syntheticSamples(count = 7, width = 24, height = 16): SamplePrediction[] {
  return Array.from({ length: count }, (_, i) => {
    const data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const o = (y * width + x) * 3;
        data[o] = (40 * i) % 256;
        data[o + 1] = Math.round((255 * x) / (width - 1));
        data[o + 2] = Math.round((255 * y) / (height - 1));
      }
    }
    const trueClass = i % 3;
    const mistake = i % 3 === 1;
    return { image: { data, width, height }, trueClass, predictedClass: mistake ? (trueClass + 1) % 3 : trueClass, confidence: 0.5 + i / (2 * count) };
  });
}

export function syntheticReportInput(): ReportInput {
  return {
    config: { model: 'mobilenet_v2', data: { dir: '/data/pets', imageSize: 224 }, phases: [{ epochs: 4 }, { epochs: 3 }] },
    records: syntheticRecords(),
    classes: syntheticClasses,
    confusion: syntheticConfusion,
    samples: syntheticSamples(),
  };
}
