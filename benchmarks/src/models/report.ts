/** The model benchmark report: its record types and the markdown (table + a text chart of the ratios). */
import type { FitResult, Memory, MemoryOverSteps, Regime, StepTiming } from './measure.js';

export interface PeerResult extends StepTiming {
  memory?: Memory;
  trainableParameters?: number;
}

export interface ModelCaseResult {
  model: string;
  kind: 'inference' | 'training';
  regime?: Regime;
  /** What the 'last' regime unfreezes, e.g. 'layer4 / conv5'. */
  regimeDetail?: string;
  size: number;
  batch: number;
  graft?: PeerResult;
  tfjs?: PeerResult;
  /** graft images/s over tfjs images/s: > 1 means graft is faster. */
  ratio?: number;
  /** Outcome of graft vs tfjs on the same input: inference features before timing, the first step's loss for training. */
  check?: string;
  error?: string;
  tfjsError?: string;
}

/** "GPU memory after step 10 equals memory after step 1,000": one model and regime, graft only. */
export interface MemoryCaseResult {
  model: string;
  regime: Regime;
  size: number;
  batch: number;
  steps: number;
  result?: MemoryOverSteps;
  error?: string;
}

/** "Training at batch 32, 224x224 fits in the adapter's limits": one step, graft only. */
export interface FitCaseResult {
  model: string;
  regime: Regime;
  size: number;
  batch: number;
  result?: FitResult;
  error?: string;
}

export interface ModelReport {
  date: string;
  commit: string | null;
  adapter: { name: string; vendor: string; architecture: string; software: boolean };
  node: string;
  tfjs: string | null;
  quick: boolean;
  plan: { warmup: number; reps: number };
  timing: string;
  cases: ModelCaseResult[];
  memoryOverSteps: MemoryCaseResult[];
  fits: FitCaseResult[];
  notMeasured: string[];
}

const regimeNames: Record<Regime, string> = { head: 'train: head only', last: 'train: last stages', all: 'train: everything' };

const fixed = (x: number | undefined | null, digits: number) => (x === undefined || x === null || !Number.isFinite(x) ? '-' : x.toFixed(digits));
const mb = (bytes: number | null | undefined) => (bytes === undefined || bytes === null ? '-' : (bytes / 2 ** 20).toFixed(0));
const memoryCell = (m: Memory | undefined) => (m ? `${mb(m.peakBytes)} / ${mb(m.steadyBytes)}` : '-');

export function memoryCaseLabel(c: MemoryCaseResult): string {
  return `memory over ${c.steps} steps ${regimeNames[c.regime]} ${c.size} b${c.batch}`;
}

export function fitCaseLabel(c: FitCaseResult): string {
  return `${regimeNames[c.regime]} b${c.batch} ${c.size}: fits`;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const shape = (s: readonly number[]) => `[${s.join(', ')}]`;

function memoryLines(cases: readonly MemoryCaseResult[]): string[] {
  if (!cases.length) return [];
  const lines = ['## Memory over 1,000 steps', ''];
  lines.push("graft's pool after `gpu.sync()` at each listed step of the same training step as above (GraftModel, Adam, one batch, " +
    'loss read every step): bytes handed out / buffers ever created. Flat = equal at the first and last listed step.', '');
  lines.push('| case | at step: MiB in use / buffers created | flat | median step ms (last 100) | total s | loss first -> last |');
  lines.push('| --- | --- | --- | ---: | ---: | --- |');
  for (const c of cases) {
    const label = `${c.model} ${memoryCaseLabel(c)}`;
    if (!c.result) {
      lines.push(`| ${label} | failed: ${oneLine(c.error)} | | | | |`);
      continue;
    }
    const r = c.result;
    const points = r.points.map((p) => `${p.step}: ${(p.bytesInUse / 2 ** 20).toFixed(2)} / ${p.buffersCreated}`).join('; ');
    lines.push(`| ${label} | ${points} | ${r.flat ? 'yes' : '**NO**'} | ${fixed(r.stepMs, 1)} | ${fixed(r.totalMs / 1e3, 1)} | ${fixed(r.firstLoss, 4)} -> ${fixed(r.lastLoss, 4)} |`);
  }
  lines.push('');
  return lines;
}

function fitLines(cases: readonly FitCaseResult[]): string[] {
  if (!cases.length) return [];
  const lines = ['## Fits in the adapter', ''];
  lines.push("One training step, graft only. Peak = graft's pool (bytes handed out) during the step; largest tensor and binding " +
    'as allocated / bound, against maxBufferSize / maxStorageBufferBindingSize.', '');
  lines.push('| case | completed | step s | MiB before / peak / after | largest tensor | largest binding | limits (binding / buffer) |');
  lines.push('| --- | --- | ---: | --- | --- | --- | --- |');
  for (const c of cases) {
    const label = `${c.model} ${fitCaseLabel(c)}`;
    const r = c.result;
    if (!r) {
      lines.push(`| ${label} | failed: ${oneLine(c.error)} | | | | | |`);
      continue;
    }
    const tensor = r.largestTensor ? `${mib(r.largestTensor.bytes)} ${shape(r.largestTensor.shape)}` : '-';
    const binding = r.largestBinding ? `${mib(r.largestBinding.bytes)} ${shape(r.largestBinding.shape)} (${r.largestBinding.kernel} binding ${r.largestBinding.binding})` : '-';
    lines.push(`| ${label} | ${r.completed ? 'yes' : `**no**: ${oneLine(r.error)}`} | ${fixed(r.stepMs / 1e3, 1)} | ` +
      `${(r.beforeBytes / 2 ** 20).toFixed(0)} / ${(r.peakBytes / 2 ** 20).toFixed(0)} / ${(r.afterBytes / 2 ** 20).toFixed(0)} | ${tensor} | ${binding} | ` +
      `${mib(r.limits.maxStorageBufferBindingSize)} / ${mib(r.limits.maxBufferSize)} |`);
  }
  lines.push('');
  return lines;
}

export function caseLabel(c: ModelCaseResult): string {
  return `${c.kind === 'inference' ? 'inference' : regimeNames[c.regime!]} ${c.size} b${c.batch}`;
}

function oneLine(text: string | undefined): string {
  const line = (text ?? 'unknown error').split('\n')[0]!.replace(/\|/g, '/');
  return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}

export function modelMarkdown(report: ModelReport): string {
  const lines: string[] = [];
  lines.push(`# Model benchmarks: ${report.adapter.name}`, '');
  lines.push(`${report.date}, commit ${report.commit ?? 'unknown'}, Node ${report.node}, tfjs ${report.tfjs ?? 'not loaded'}, ` +
    `${report.adapter.software ? 'software' : 'hardware'} adapter${report.quick ? ', quick run' : ''}.`);
  lines.push(`Timing: ${report.timing}. Per case: each peer's first step timed alone, then ${report.plan.warmup} warm-up and ${report.plan.reps} timed rounds alternating graft and tfjs (order flipped every round, so outside load falls on both), medians.`);
  lines.push('Ratio = graft img/s / tfjs-webgpu img/s (> 1: graft faster). Memory in MiB, peak / steady: graft = its buffer pool' +
    " (bytes handed out), tfjs = tf.memory().numBytes (live tensors; peak from tf.profile).", '');
  for (const model of [...new Set(report.cases.map((c) => c.model))]) {
    lines.push(`## ${model}`, '');
    lines.push('| case | graft img/s | tfjs img/s | ratio | graft 1st step s | tfjs 1st step s | graft MiB | tfjs MiB | check |');
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const c of report.cases.filter((r) => r.model === model)) {
      if (c.error || !c.graft) {
        lines.push(`| ${caseLabel(c)} | failed: ${oneLine(c.error)} | | | | | | | ${oneLine(c.check ?? '')} |`);
        continue;
      }
      const tfjs = c.tfjs ? fixed(c.tfjs.imagesPerSecond, 2) : `failed: ${oneLine(c.tfjsError)}`;
      const ratio = c.ratio === undefined ? '-' : `${c.ratio.toFixed(2)}x`;
      lines.push(`| ${caseLabel(c)} | ${fixed(c.graft.imagesPerSecond, 2)} | ${tfjs} | ${ratio} | ${fixed(c.graft.firstStepMs / 1e3, 1)} | ` +
        `${fixed(c.tfjs && c.tfjs.firstStepMs / 1e3, 1)} | ${memoryCell(c.graft.memory)} | ${memoryCell(c.tfjs?.memory)} | ${oneLine(c.check ?? '')} |`);
    }
    const detail = report.cases.find((c) => c.model === model && c.regimeDetail)?.regimeDetail;
    if (detail) lines.push('', `Last stages = ${detail} (graft / Keras names).`);
    lines.push('');
  }
  const rated = report.cases.filter((c) => c.ratio !== undefined);
  if (rated.length) {
    lines.push('## Ratio chart (graft / tfjs; | marks 1x)', '', '```');
    const width = Math.max(...rated.map((c) => `${c.model} ${caseLabel(c)}`.length));
    for (const c of rated) {
      const bar = '#'.repeat(Math.min(60, Math.round(c.ratio! * 10)));
      const withMark = bar.length >= 10 ? `${bar.slice(0, 9)}|${bar.slice(10)}` : `${bar}${' '.repeat(9 - bar.length)}|`;
      lines.push(`${`${c.model} ${caseLabel(c)}`.padEnd(width)}  ${withMark} ${c.ratio!.toFixed(2)}x`);
    }
    lines.push('```', '');
  }
  lines.push(...memoryLines(report.memoryOverSteps ?? []), ...fitLines(report.fits ?? []));
  if (report.notMeasured.length) lines.push('## Not measured', '', ...report.notMeasured.map((n) => `- ${n}`), '');
  return lines.join('\n');
}
