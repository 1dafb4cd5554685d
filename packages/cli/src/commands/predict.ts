/**
 * `graft predict <run|checkpoint> <images…>`: the top-k classes of each image with their softmax
 * probabilities, as a table, JSON or CSV. Arguments may be image files or folders (searched
 * recursively for image files). An image that cannot be decoded is warned about and skipped; the
 * command fails (exit 1) only when none could be read.
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { createGpu } from '@graft/kernels';
import Table from 'cli-table3';
import { Command, Option } from 'commander';
import { imageExtensions, type Sample } from '../data/index.js';
import { intArg } from './train.js';
import { infer, openTarget, topK, warnTo } from './runTarget.js';

export class PredictInputError extends Error {
  override name = 'PredictInputError';
}

export interface ImagePrediction {
  path: string;
  top: { class: string; probability: number }[];
}

export interface PredictResult {
  run: string;
  checkpoint: string;
  k: number;
  predictions: ImagePrediction[];
  skipped: { path: string; reason: string }[];
}

interface PredictFlags {
  topK: number;
  format: 'table' | 'json' | 'csv';
  batchSize: number;
  workers?: number;
}

/** Files as given (whatever their extension: sharp decides), folders searched recursively for image files, sorted; hidden entries skipped. */
export function collectImages(inputs: readonly string[]): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.') || name === '__MACOSX') continue;
      const path = join(dir, name);
      let isDir: boolean;
      try {
        isDir = statSync(path).isDirectory();
      } catch {
        continue; // a dangling symlink
      }
      if (isDir) walk(path);
      else if (imageExtensions.includes(extname(name).toLowerCase())) found.push(path);
    }
  };
  for (const input of inputs) {
    let isDir: boolean;
    try {
      isDir = statSync(input).isDirectory();
    } catch {
      throw new PredictInputError(`'${input}' does not exist (expected an image file or a folder of images)`);
    }
    if (!isDir) found.push(input);
    else {
      const before = found.length;
      walk(input);
      if (found.length === before) throw new PredictInputError(`folder '${input}' has no image files (looked for ${imageExtensions.join(' ')})`);
    }
  }
  return found;
}

export async function runPredict(target: string, inputs: readonly string[], flags: Pick<PredictFlags, 'topK' | 'batchSize' | 'workers'>, warn: (m: string) => void): Promise<PredictResult> {
  const paths = collectImages(inputs);
  const gpu = await createGpu();
  try {
    const opened = await openTarget(gpu, target);
    try {
      const samples: Sample[] = paths.map((path) => ({ ref: { kind: 'file', path }, label: 0, id: path }));
      const skipped: PredictResult['skipped'] = [];
      const evaluation = await infer(opened, samples, {
        batchSize: flags.batchSize,
        workers: flags.workers,
        onSkip: (path, reason) => {
          skipped.push({ path, reason });
          warn(`skipped ${path}: ${reason}`);
        },
      });
      if (evaluation.predictions.length === 0) throw new PredictInputError(`none of the ${paths.length} images could be read`);
      const k = Math.min(flags.topK, opened.classes.length);
      const predictions = evaluation.predictions.map((p) => ({
        path: paths[p.index]!,
        top: topK(p.probabilities, opened.classes, k).map(({ class: c, probability }) => ({ class: c, probability })),
      }));
      return { run: opened.runDir, checkpoint: opened.checkpoint, k, predictions, skipped };
    } finally {
      opened.gm.release();
    }
  } finally {
    gpu.destroy();
  }
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One row per (image, rank): path,rank,class,probability. */
export function formatCsv(result: PredictResult): string {
  const rows = result.predictions.flatMap((p) => p.top.map((t, rank) => [csvField(p.path), String(rank + 1), csvField(t.class), t.probability.toPrecision(6)].join(',')));
  return ['path,rank,class,probability', ...rows].join('\n');
}

export function formatTable(result: PredictResult): string {
  const ordinal = (i: number) => (i === 0 ? 'top class' : `#${i + 1}`);
  const table = new Table({ head: ['image', ...Array.from({ length: result.k }, (_, i) => ordinal(i))], style: { head: [], border: [] } });
  for (const p of result.predictions) table.push([p.path, ...p.top.map((t) => `${t.class} ${(100 * t.probability).toFixed(1)}%`)]);
  return table.toString();
}

export function formatJson(result: PredictResult): string {
  return JSON.stringify(result, null, 2);
}

export function predictCommand(): Command {
  return new Command('predict')
    .description('classify images with a trained run: the top-k classes and their probabilities')
    .argument('<run>', 'a run folder from graft train (runs/<name>), or one of its checkpoints (runs/<name>/checkpoints/best)')
    .argument('<images...>', 'image files and/or folders (searched recursively)')
    .option('--top-k <k>', 'classes to show per image', intArg('--top-k', 1), 3)
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'csv']).default('table'))
    .option('--batch-size <n>', 'images per forward pass', intArg('--batch-size', 1), 32)
    .option('--workers <n>', 'image decoding threads', intArg('--workers'))
    .addHelpText(
      'after',
      `
Examples:
  graft predict runs/flowers rose.jpg tulip.png
  graft predict runs/flowers/checkpoints/best new-photos/ --top-k 1
  graft predict runs/flowers new-photos/ --format csv > predictions.csv
  graft predict runs/flowers photo.jpg --format json | jq '.predictions[0].top[0]'

Exit codes: 0 when at least one image was classified (unreadable ones are warned about and skipped),
1 when none could be read or the run cannot be opened, 2 for a usage mistake.`,
    )
    .action(async (target: string, images: string[], flags: PredictFlags) => {
      const result = await runPredict(target, images, flags, warnTo());
      const text = flags.format === 'json' ? formatJson(result) : flags.format === 'csv' ? formatCsv(result) : formatTable(result);
      process.stdout.write(`${text}\n`);
    });
}
