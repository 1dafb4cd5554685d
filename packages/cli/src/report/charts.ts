/**
 * The run report's charts as vega-lite specs, rendered in Node to SVG (vega's View.toSVG, no canvas
 * needed) and rasterised to PNG by sharp.
 */
import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from './atomicWrite.js';
import type { EpochRecord } from './metrics.js';

export interface ChartImage {
  /** Standalone SVG at 1 CSS pixel per unit: what report.html inlines. */
  svg: string;
  /** The same chart rasterised at `pngScale` times the SVG's size. */
  png: Buffer;
}

export class ChartInputError extends Error {
  override name = 'ChartInputError';
}

/** PNGs are drawn at twice the SVG's size, so text stays sharp when the PNG is viewed on its own. */
export const pngScale = 2;

export const fineTuningLabel = 'Start fine-tuning';

const font = 'DejaVu Sans, Helvetica, Arial, sans-serif';
const splitColors: Record<string, string> = { train: '#1f77b4', validation: '#ff7f0e' };

/**
 * Accuracy and loss per epoch, train and validation, side by side. Epoch e is drawn at x = e (its end);
 * phase 2 starts where its first epoch starts, x = firstPhase2Epoch - 1, which is where the rule goes
 * (as in the Keras transfer-learning tutorial's figure).
 */
export function trainingCurvesSpec(records: readonly EpochRecord[]): TopLevelSpec {
  if (records.length === 0) throw new ChartInputError('no epochs to chart: metrics.jsonl has no records');
  const rows: { epoch: number; metric: string; split: string; value: number }[] = [];
  for (const r of records) {
    const push = (metric: string, split: string, value: number | undefined) => {
      if (value !== undefined && Number.isFinite(value)) rows.push({ epoch: r.epoch, metric, split, value });
    };
    push('accuracy', 'train', r.trainAccuracy);
    push('accuracy', 'validation', r.valAccuracy);
    push('loss', 'train', r.trainLoss);
    push('loss', 'validation', r.valLoss);
  }
  // The same colour for a split in every run, and no legend entry for a split that has no points.
  const splits = Object.keys(splitColors).filter((split) => rows.some((row) => row.split === split));
  const colorScale = { domain: splits, range: splits.map((split) => splitColors[split]!) };
  const firstPhase2 = records.find((r) => r.phase === 2)?.epoch;
  const lastEpoch = Math.max(...records.map((r) => r.epoch));
  const panel = (metric: 'accuracy' | 'loss') => {
    const layers: object[] = [
      {
        transform: [{ filter: { field: 'metric', equal: metric } }],
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', title: 'epoch', scale: { domain: [0, lastEpoch] }, axis: { tickMinStep: 1 } },
          y: {
            field: 'value',
            type: 'quantitative',
            title: metric,
            scale: metric === 'accuracy' ? { domain: [0, 1] } : { zero: true },
          },
          color: { field: 'split', type: 'nominal', title: null, scale: colorScale },
        },
      },
    ];
    if (firstPhase2 !== undefined) {
      const start = [{ x: firstPhase2 - 1, label: fineTuningLabel }];
      layers.push(
        { data: { values: start }, mark: { type: 'rule', color: '#2ca02c', strokeWidth: 2 }, encoding: { x: { field: 'x', type: 'quantitative' } } },
        {
          data: { values: start },
          mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 4, color: '#2ca02c', y: 0 },
          encoding: { x: { field: 'x', type: 'quantitative' }, text: { field: 'label' } },
        },
      );
    }
    return { title: metric === 'accuracy' ? 'Training and validation accuracy' : 'Training and validation loss', width: 320, height: 220, layer: layers };
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows },
    hconcat: [panel('accuracy'), panel('loss')],
    config: { font, legend: { orient: 'bottom' } },
  } as TopLevelSpec;
}

/**
 * The confusion matrix as a heatmap: counts in the cells, colour by the fraction of the true class's
 * row (so a rare class's errors show as clearly as a common one's), class names on both axes.
 */
export function confusionMatrixSpec(confusion: readonly (readonly number[])[], classes: readonly string[]): TopLevelSpec {
  if (classes.length === 0) throw new ChartInputError('no classes to chart');
  if (confusion.length !== classes.length || confusion.some((row) => row.length !== classes.length)) {
    throw new ChartInputError(`expected a ${classes.length}x${classes.length} confusion matrix for ${classes.length} classes`);
  }
  const cells = confusion.flatMap((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((count, p) => ({ true: classes[t]!, predicted: classes[p]!, count, fraction: total === 0 ? 0 : count / total }));
  });
  const step = classes.length > 20 ? 18 : 40;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Confusion matrix (colour: fraction of the true class)',
    data: { values: cells },
    width: { step },
    height: { step },
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: [...classes], title: 'predicted class', axis: { labelAngle: -45 } },
      y: { field: 'true', type: 'nominal', sort: [...classes], title: 'true class' },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: { field: 'fraction', type: 'quantitative', title: 'row fraction', scale: { scheme: 'blues', domain: [0, 1] } },
          tooltip: [{ field: 'true' }, { field: 'predicted' }, { field: 'count' }],
        },
      },
      {
        mark: { type: 'text', fontSize: step > 20 ? 12 : 8 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: 'datum.fraction > 0.5', value: 'white' }, value: 'black' },
        },
      },
    ],
    config: { font, axis: { grid: false } },
  } as TopLevelSpec;
}

export async function renderTrainingCurves(records: readonly EpochRecord[]): Promise<ChartImage> {
  return renderChart(trainingCurvesSpec(records));
}

export async function renderConfusionMatrix(confusion: readonly (readonly number[])[], classes: readonly string[]): Promise<ChartImage> {
  return renderChart(confusionMatrixSpec(confusion, classes));
}

/** Compiles vega-lite to vega, runs the dataflow headless and serialises the scene graph to SVG. */
export async function renderChart(spec: TopLevelSpec): Promise<ChartImage> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return { svg, png: await svgToPng(svg) };
  } finally {
    view.finalize();
  }
}

/** Writes a chart's PNG atomically (report.html inlines the SVG instead). */
export function writeChartPng(file: string, chart: ChartImage): void {
  writeFileAtomic(file, chart.png);
}

export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density: 72 * pngScale }).png().toBuffer();
}
