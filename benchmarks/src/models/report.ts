/** The model benchmark report: its record types and the markdown (table + a text chart of the ratios). */
import type { Memory, Regime, StepTiming } from './measure.js';

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
  notMeasured: string[];
}

const regimeNames: Record<Regime, string> = { head: 'train: head only', last: 'train: last stages', all: 'train: everything' };

const fixed = (x: number | undefined | null, digits: number) => (x === undefined || x === null || !Number.isFinite(x) ? '-' : x.toFixed(digits));
const mb = (bytes: number | null | undefined) => (bytes === undefined || bytes === null ? '-' : (bytes / 2 ** 20).toFixed(0));
const memoryCell = (m: Memory | undefined) => (m ? `${mb(m.peakBytes)} / ${mb(m.steadyBytes)}` : '-');

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
  lines.push(`Timing: ${report.timing}. Per case: first step timed alone, ${report.plan.warmup} more warm-up, median of ${report.plan.reps} timed.`);
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
  lines.push('## Ratio chart (graft / tfjs; | marks 1x)', '', '```');
  const width = Math.max(...report.cases.map((c) => `${c.model} ${caseLabel(c)}`.length));
  for (const c of report.cases) {
    if (c.ratio === undefined) continue;
    const bar = '#'.repeat(Math.min(60, Math.round(c.ratio * 10)));
    const withMark = bar.length >= 10 ? `${bar.slice(0, 9)}|${bar.slice(10)}` : `${bar}${' '.repeat(9 - bar.length)}|`;
    lines.push(`${`${c.model} ${caseLabel(c)}`.padEnd(width)}  ${withMark} ${c.ratio.toFixed(2)}x`);
  }
  lines.push('```', '');
  if (report.notMeasured.length) lines.push('## Not measured', '', ...report.notMeasured.map((n) => `- ${n}`), '');
  return lines.join('\n');
}
