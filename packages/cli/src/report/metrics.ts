/** metrics.jsonl: one JSON record per epoch, appended by the trainer and read back by reports. */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';

export interface EpochRecord {
  /** 1: the head alone on a frozen backbone; 2: fine-tuning after the unfreeze point. */
  phase: 1 | 2;
  /** Global and 1-based: phase 2 continues the count of phase 1. */
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  /** Learning rate per parameter group at the end of the epoch, keyed by group name. */
  lr: Record<string, number>;
  seconds: number;
  trainImagesPerSecond: number;
  dataImagesPerSecond: number;
}

export class MetricsFileError extends Error {
  override name = 'MetricsFileError';
}

/**
 * Appends one line and fsyncs it: the log survives a crash of the next epoch. A diverged loss (NaN,
 * Infinity) is written as JSON null and read back as NaN.
 */
export function appendMetrics(file: string, record: EpochRecord): void {
  const fd = openSync(file, 'a');
  try {
    writeSync(fd, `${JSON.stringify(record)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads every record. A last line that does not parse is a write torn by a crash: it is skipped with a
 * warning (through `warn`, stderr by default). A bad line anywhere else means the file is not ours: error.
 */
export function readMetrics(file: string, warn: (message: string) => void = defaultWarn): EpochRecord[] {
  if (!existsSync(file)) throw new MetricsFileError(`${file}: no such metrics file`);
  const lines = readFileSync(file, 'utf8').split('\n');
  const records: EpochRecord[] = [];
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    const isLast = lines.slice(index + 1).every((rest) => rest.trim() === '');
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      if (isLast) {
        warn(`${file}: line ${index + 1} is incomplete (a write torn by a crash?), skipped`);
        return;
      }
      throw new MetricsFileError(`${file}: line ${index + 1} is not JSON`);
    }
    const problem = checkRecord(record);
    if (problem) {
      if (isLast) {
        warn(`${file}: line ${index + 1} is incomplete (${problem}), skipped`);
        return;
      }
      throw new MetricsFileError(`${file}: line ${index + 1}: ${problem}`);
    }
    records.push(nullsToNaN(record as Record<string, unknown>) as unknown as EpochRecord);
  });
  return records;
}

function defaultWarn(message: string): void {
  process.stderr.write(`graft: warning: ${message}\n`);
}

const measured = ['trainLoss', 'trainAccuracy', 'seconds', 'trainImagesPerSecond', 'dataImagesPerSecond'];

function nullsToNaN(record: Record<string, unknown>): Record<string, unknown> {
  const out = { ...record };
  for (const key of [...measured, 'valLoss', 'valAccuracy']) if (out[key] === null) out[key] = Number.NaN;
  return out;
}

/** Returns what is wrong with a parsed line, or undefined when it is a whole EpochRecord. */
function checkRecord(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'expected an object';
  const r = value as Record<string, unknown>;
  if (r.phase !== 1 && r.phase !== 2) return `expected phase 1 or 2, found ${JSON.stringify(r.phase)}`;
  if (typeof r.epoch !== 'number' || !Number.isInteger(r.epoch) || r.epoch < 1) return 'expected an epoch number >= 1';
  for (const key of measured) {
    if (typeof r[key] !== 'number' && r[key] !== null) return `expected a number in "${key}"`;
  }
  for (const key of ['valLoss', 'valAccuracy']) {
    if (r[key] !== undefined && typeof r[key] !== 'number' && r[key] !== null) return `expected a number or nothing in "${key}"`;
  }
  if (typeof r.lr !== 'object' || r.lr === null) return 'expected an object in "lr"';
  return undefined;
}
