/**
 * `graft eval <run|checkpoint> <data>`: a trained run on a labelled image folder: accuracy, top-k
 * accuracy, scikit-learn's per-class precision/recall/F1 and the confusion matrix (a table, and a PNG
 * chart with --chart). <data>'s class subfolders must be among the run's classes; images that cannot
 * be decoded are warned about by path, skipped and counted.
 */
import { createGpu } from '@graft/kernels';
import { Command } from 'commander';
import pc from 'picocolors';
import { scanImageFolder, type Dataset, type Sample } from '../data/index.js';
import { classificationReport, confusionMatrix, formatClassificationReport, formatConfusionTable, renderConfusionMatrix, writeChartPng, type ClassificationReport } from '../report/index.js';
import { intArg } from './train.js';
import { infer, openTarget, warnTo } from './runTarget.js';

export class EvalDataError extends Error {
  override name = 'EvalDataError';
}

interface EvalFlags {
  topK: number;
  chart?: string;
  batchSize: number;
  workers?: number;
  json?: boolean;
}

export interface EvalResult {
  run: string;
  checkpoint: string;
  data: string;
  split: 'train' | 'val' | 'test';
  images: number;
  skipped: string[];
  accuracy: number;
  topK: { k: number; accuracy: number };
  report: ClassificationReport;
  confusion: number[][];
  classes: string[];
}

/**
 * The samples of `dataset` with labels mapped to the run's class indices. A plain class folder is
 * read whole; a train/val/test layout gives its test split, else val, else train.
 */
export function evalSamples(dataset: Dataset, runClasses: readonly string[], warn: (m: string) => void): { samples: Sample[]; split: EvalResult['split'] } {
  const unknown = dataset.classes.filter((c) => !runClasses.includes(c));
  if (unknown.length > 0) {
    throw new EvalDataError(`'${dataset.root}' has classes the run does not know: ${unknown.join(', ')} (the run's classes: ${runClasses.join(', ')})`);
  }
  const missing = runClasses.filter((c) => !dataset.classes.includes(c));
  if (missing.length > 0) warn(`'${dataset.root}' has no folder for ${missing.length} of the run's classes: ${missing.join(', ')} (their recall is reported as 0 with support 0)`);
  const split = dataset.test.length > 0 ? 'test' : dataset.val.length > 0 ? 'val' : 'train';
  const samples = dataset[split].map((s) => ({ ...s, label: runClasses.indexOf(dataset.classes[s.label]!) }));
  return { samples, split };
}

/** Fraction of predictions whose true class is among the k most probable. */
export function topKAccuracy(predictions: readonly { label: number; probabilities: Float64Array }[], k: number): number {
  if (predictions.length === 0) return NaN;
  let hits = 0;
  for (const p of predictions) {
    const mine = p.probabilities[p.label]!;
    let above = 0;
    p.probabilities.forEach((q, j) => {
      if (q > mine || (q === mine && j < p.label)) above++; // ties go to the lower index, as argmax does
    });
    if (above < k) hits++;
  }
  return hits / predictions.length;
}

export async function runEval(target: string, data: string, flags: EvalFlags, warn: (m: string) => void): Promise<EvalResult> {
  const gpu = await createGpu();
  try {
    const opened = await openTarget(gpu, target);
    try {
      const dataset = scanImageFolder(data, { valFraction: 0, testFraction: 0 });
      if (dataset.ignored.length > 0) warn(`ignored ${dataset.ignored.length} files that are not images, e.g. '${dataset.ignored[0]}'`);
      const { samples, split } = evalSamples(dataset, opened.classes, warn);
      if (split !== 'train') warn(`'${data}' has a ${split}/ folder: evaluating its ${samples.length} images`);
      const skipped: string[] = [];
      const evaluation = await infer(opened, samples, {
        batchSize: flags.batchSize,
        workers: flags.workers,
        onSkip: (id, reason) => {
          skipped.push(id);
          warn(`skipped ${id}: ${reason}`);
        },
      });
      if (evaluation.predictions.length === 0) throw new EvalDataError(`none of the ${samples.length} images in '${data}' could be read`);
      const k = Math.min(flags.topK, opened.classes.length);
      const confusion = confusionMatrix(evaluation.predictions.map((p) => p.label), evaluation.predictions.map((p) => p.predicted), opened.classes.length);
      const report = classificationReport(confusion, opened.classes);
      if (flags.chart) writeChartPng(flags.chart, await renderConfusionMatrix(confusion, opened.classes));
      return {
        run: opened.runDir,
        checkpoint: opened.checkpoint,
        data,
        split,
        images: evaluation.predictions.length,
        skipped,
        accuracy: report.accuracy,
        topK: { k, accuracy: topKAccuracy(evaluation.predictions, k) },
        report,
        confusion,
        classes: opened.classes,
      };
    } finally {
      opened.gm.release();
    }
  } finally {
    gpu.destroy();
  }
}

export function formatEval(r: EvalResult, chart?: string): string {
  const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
  const topK = r.topK.k > 1 && r.topK.k < r.classes.length ? `   top-${r.topK.k} accuracy ${pc.bold(percent(r.topK.accuracy))}` : '';
  return [
    `${r.checkpoint} on ${r.data}: ${r.images} images${r.skipped.length > 0 ? ` (${r.skipped.length} skipped)` : ''}`,
    `accuracy ${pc.bold(percent(r.accuracy))}${topK}`,
    '',
    formatClassificationReport(r.report),
    '',
    'confusion matrix (rows: true class, columns: predicted)',
    formatConfusionTable(r.confusion, r.classes),
    ...(chart ? ['', `chart: ${chart}`] : []),
  ].join('\n');
}

export function evalCommand(): Command {
  return new Command('eval')
    .description("evaluate a trained run on a labelled image folder: accuracy, top-k, per-class precision/recall/F1, confusion matrix")
    .argument('<run>', 'a run folder from graft train (runs/<name>), or one of its checkpoints (runs/<name>/checkpoints/best)')
    .argument('<data>', "image folder with the run's class names as subfolders: <data>/<class>/*.jpg")
    .option('--top-k <k>', 'also report top-k accuracy (shown when 1 < k < classes)', intArg('--top-k', 1), 5)
    .option('--chart <file.png>', 'write the confusion matrix as a PNG chart')
    .option('--batch-size <n>', 'images per forward pass', intArg('--batch-size', 1), 32)
    .option('--workers <n>', 'image decoding threads', intArg('--workers'))
    .option('--json', 'print the result as JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  graft eval runs/flowers photos-test/
  graft eval runs/flowers/checkpoints/best photos-test/ --top-k 3 --chart confusion.png
  graft eval runs/flowers photos-test/ --json > eval.json`,
    )
    .action(async (target: string, data: string, flags: EvalFlags) => {
      const result = await runEval(target, data, flags, warnTo());
      process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatEval(result, flags.chart)}\n`);
    });
}
