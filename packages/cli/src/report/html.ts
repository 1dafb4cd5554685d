/**
 * report.html for a run directory: one self-contained page (inline SVG charts, sample thumbnails as
 * data URIs, no external files) plus the charts as PNGs beside it.
 */
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { writeFileAtomic } from './atomicWrite.js';
import { renderConfusionMatrix, renderTrainingCurves, writeChartPng } from './charts.js';
import { classificationReport, type ClassificationReport } from './classification.js';
import type { EpochRecord } from './metrics.js';
import { escapeXml as escapeHtml, renderSampleGrid, selectSamples, type SamplePrediction, type SampleTile } from './samples.js';

export interface ReportInput {
  /** The run's config.json, shown as a flat key/value table. */
  config: Record<string, unknown>;
  records: readonly EpochRecord[];
  classes: readonly string[];
  /** Validation (or test) confusion matrix, rows = true class; omitted when there was no evaluation. */
  confusion?: readonly (readonly number[])[];
  /** Candidates for the sample grid; the most confident mistakes are picked first. */
  samples?: readonly SamplePrediction[];
}

export interface ReportFiles {
  html: string;
  curves?: string;
  confusion?: string;
  samples?: string;
}

/** How many samples the grid shows at most. */
export const maxSamples = 24;

export async function writeReport(runDir: string, input: ReportInput): Promise<ReportFiles> {
  mkdirSync(runDir, { recursive: true });
  const files: ReportFiles = { html: join(runDir, 'report.html') };
  const sections: string[] = [];

  sections.push(section('Configuration', 'config', configTable(input.config)));
  if (input.records.length > 0) {
    const curves = await renderTrainingCurves(input.records);
    files.curves = join(runDir, 'curves.png');
    writeChartPng(files.curves, curves);
    sections.push(section('Training curves', 'curves', `<figure class="chart">${curves.svg}</figure>`));
    sections.push(section('Metrics per epoch', 'metrics', metricsTable(input.records)));
  }
  if (input.confusion) {
    const report = classificationReport(input.confusion, input.classes);
    const chart = await renderConfusionMatrix(input.confusion, input.classes);
    files.confusion = join(runDir, 'confusion.png');
    writeChartPng(files.confusion, chart);
    sections.push(section('Classification report', 'classification', classificationTable(report)));
    sections.push(section('Confusion matrix', 'confusion', `<figure class="chart">${chart.svg}</figure>`));
  }
  if (input.samples && input.samples.length > 0) {
    const grid = await renderSampleGrid(selectSamples(input.samples, maxSamples), input.classes);
    files.samples = join(runDir, 'samples.png');
    writeChartPng(files.samples, grid);
    sections.push(section('Sample predictions', 'samples', sampleTiles(grid.tiles)));
  }

  const title = `graft run ${basename(resolve(runDir))}`;
  writeFileAtomic(files.html, page(title, sections));
  return files;
}

function page(title: string, sections: string[]): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
  body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
  table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
  th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  figure { margin: 0.5em 0; }
  .samples { display: flex; flex-wrap: wrap; gap: 10px; }
  .sample { width: 128px; font-size: 0.8em; margin: 0; }
  .sample img { display: block; width: 128px; height: 128px; border: 3px solid #2ca02c; }
  .sample.mistake img { border-color: #d62728; }
  .sample.mistake figcaption .predicted { color: #d62728; }
  .note { color: #666; font-size: 0.85em; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${sections.join('\n')}
</body>
</html>
`;
}

function section(heading: string, id: string, body: string): string {
  return `<section id="${id}">\n<h2>${escapeHtml(heading)}</h2>\n${body}\n</section>`;
}

function table(head: string[], rows: string[][], numericFrom = 1): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((cell, i) => (i >= numericFrom ? `<td class="num">${cell}</td>` : `<td>${cell}</td>`)).join('')}</tr>`);
  return `<table>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${tr.join('\n')}\n</tbody>\n</table>`;
}

/** Nested settings become dotted keys ("optimizer.lr"); arrays stay JSON. */
function configTable(config: Record<string, unknown>): string {
  const rows: string[][] = [];
  const walk = (prefix: string, value: unknown) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value)) walk(prefix ? `${prefix}.${key}` : key, inner);
    } else {
      rows.push([escapeHtml(prefix), escapeHtml(typeof value === 'string' ? value : JSON.stringify(value) ?? 'undefined')]);
    }
  };
  walk('', config);
  return table(['setting', 'value'], rows, 2);
}

function metricsTable(records: readonly EpochRecord[]): string {
  const f = (x: number | undefined, digits: number) => (x === undefined ? '' : Number.isFinite(x) ? x.toFixed(digits) : String(x));
  const rows = records.map((r) => [
    String(r.epoch),
    String(r.phase),
    f(r.trainLoss, 4),
    f(r.trainAccuracy, 4),
    f(r.valLoss, 4),
    f(r.valAccuracy, 4),
    escapeHtml(Object.entries(r.lr).map(([group, lr]) => `${group}=${lr.toExponential(2)}`).join(' ')),
    f(r.seconds, 1),
    f(r.trainImagesPerSecond, 1),
    f(r.dataImagesPerSecond, 1),
  ]);
  const head = ['epoch', 'phase', 'train loss', 'train acc', 'val loss', 'val acc', 'lr', 'seconds', 'train img/s', 'data img/s'];
  return table(head, rows, 0);
}

function classificationTable(report: ClassificationReport): string {
  const f = (x: number) => x.toFixed(3);
  const rows = report.classes.map((c) => [escapeHtml(c.name), f(c.precision), f(c.recall), f(c.f1), String(c.support)]);
  rows.push(['<b>accuracy</b>', '', '', f(report.accuracy), String(report.total)]);
  rows.push(['macro avg', f(report.macro.precision), f(report.macro.recall), f(report.macro.f1), String(report.macro.support)]);
  rows.push(['weighted avg', f(report.weighted.precision), f(report.weighted.recall), f(report.weighted.f1), String(report.weighted.support)]);
  const zero = report.zeroDivision;
  const undefinedNote = [
    zero.precision.length ? `precision of ${zero.precision.join(', ')} (never predicted)` : '',
    zero.recall.length ? `recall of ${zero.recall.join(', ')} (no samples)` : '',
  ].filter(Boolean);
  const note = undefinedNote.length
    ? `<p class="note">Set to 0 because undefined (0/0), as scikit-learn does: ${escapeHtml(undefinedNote.join('; '))}.</p>`
    : '';
  return table(['class', 'precision', 'recall', 'f1-score', 'support'], rows) + note;
}

function sampleTiles(tiles: readonly SampleTile[]): string {
  const figures = tiles.map((t) => {
    const alt = `true ${t.trueName}, predicted ${t.predictedName}`;
    return (
      `<figure class="sample${t.mistake ? ' mistake' : ''}">` +
      `<img alt="${escapeHtml(alt)}" src="data:image/png;base64,${t.png.toString('base64')}">` +
      `<figcaption>true: ${escapeHtml(t.trueName)}<br><span class="predicted">${t.mistake ? '✗' : '✓'} ` +
      `${escapeHtml(t.predictedName)} ${(t.confidence * 100).toFixed(0)}%</span></figcaption></figure>`
    );
  });
  const note = '<p class="note">Red frames are mistakes, the most confident first.</p>';
  return `${note}\n<div class="samples">\n${figures.join('\n')}\n</div>`;
}
