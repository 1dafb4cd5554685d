/** The kernel benchmark report: its record types, the markdown table, the targets check, the files. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Timing } from './timing.js';

export interface CaseResult {
  kernel: string;
  label: string;
  direction: 'forward' | 'backward' | '-';
  /** Case file the case came from (relative to cases/). */
  file: string;
  flops: number;
  bytes: number;
  graft?: Timing & { gflops: number; gbps: number; peakFraction: number | null };
  tfjs?: Timing;
  /** tfjs ms / graft ms: graft's throughput over tfjs's; > 1 means graft is faster. */
  ratio?: number;
  /** Why graft's part failed (case not timed). */
  error?: string;
  /** Why the tfjs peer failed or is absent; graft's numbers still stand. */
  tfjsError?: string;
  /** Outcome of the check against tfjs before timing: 'matched tfjs (...)' or 'not compared: <why>'. */
  check?: string;
}

export interface KernelReport {
  date: string;
  commit: string | null;
  adapter: { name: string; vendor: string; architecture: string; software: boolean };
  node: string;
  dawnToggles: string[];
  quick: boolean;
  filter: string | null;
  timing: { graft: string; tfjs: string | null };
  fmaPeak: { gflops: number; ms: number; iterations: number; invocations: number } | null;
  cases: CaseResult[];
  targets: string[];
}

/** tfjsError of a case that defines no tfjs equivalent (not a failure). */
export const noTfjsPeer = 'no tfjs equivalent';

const fixed = (x: number | undefined, digits: number) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

/** One table per kernel family, in the order families first appear. */
export function markdownTable(report: KernelReport): string {
  const lines: string[] = [];
  const peak = report.fmaPeak ? `${report.fmaPeak.gflops.toFixed(1)} GFLOP/s` : 'not measured';
  lines.push(`# Kernel benchmarks: ${report.adapter.name}`, '');
  lines.push(`${report.date}, commit ${report.commit ?? 'unknown'}, Node ${report.node}, ${report.adapter.software ? 'software' : 'hardware'} adapter` +
    `${report.dawnToggles.length ? `, Dawn toggles ${report.dawnToggles.join(',')}` : ''}${report.quick ? ', quick run' : ''}.`);
  lines.push(`FMA peak (fmaPeak.wgsl): ${peak}. Timing: graft ${report.timing.graft}, tfjs ${report.timing.tfjs ?? 'not run'}; median of the repetitions.`);
  lines.push('Ratio = graft throughput / tfjs-webgpu throughput (> 1: graft faster).', '');
  const families = [...new Set(report.cases.map((c) => c.kernel))];
  for (const family of families) {
    lines.push(`## ${family}`, '');
    lines.push('| case | direction | graft ms | GFLOP/s | GB/s | % of FMA peak | tfjs ms | ratio |');
    lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const c of report.cases.filter((r) => r.kernel === family)) {
      if (!c.graft || c.error) {
        lines.push(`| ${c.label} | ${c.direction} | failed: ${oneLine(c.error)} | | | | | |`);
        continue;
      }
      const g = c.graft;
      const tfjs = c.tfjs ? fixed(c.tfjs.medianMs, 2) : c.tfjsError && c.tfjsError !== noTfjsPeer ? `failed: ${oneLine(c.tfjsError)}` : 'no peer';
      const pct = g.peakFraction === null ? '-' : `${(100 * g.peakFraction).toFixed(1)}%`;
      const ratio = c.ratio === undefined ? '-' : `${c.ratio.toFixed(2)}x`;
      lines.push(`| ${c.label} | ${c.direction} | ${fixed(g.medianMs, 2)} | ${fixed(g.gflops, 1)} | ${fixed(g.gbps, 1)} | ${pct} | ${tfjs} | ${ratio} |`);
    }
    lines.push('');
  }
  const timed = report.cases.filter((c) => c.graft && !c.error);
  const unchecked = timed.filter((c) => !c.check?.startsWith('matched'));
  lines.push('## Checks against tfjs', '');
  lines.push(`Before timing, ${timed.length - unchecked.length} of ${timed.length} timed cases matched tfjs's outputs on the same inputs` +
    `${unchecked.length ? '; not compared:' : '.'}`);
  lines.push(...unchecked.map((c) => `- ${c.label} (${c.direction}): ${(c.check ?? 'not compared').replace(/^not compared: /, '')}`), '');
  lines.push('## Targets', '');
  lines.push(...(report.targets.length ? report.targets.map((t) => `- ${t}`) : ['- all met']), '');
  return lines.join('\n');
}

function oneLine(text: string | undefined): string {
  const line = (text ?? 'unknown error').split('\n')[0]!.replace(/\|/g, '/');
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

const ratioTargetKernels = /conv|depthwise|matmul|pool/i;
const ratioTarget = 3;
const matmulTargetLabel = 'matmul 1024x1024x1024';
const matmulGflopsTarget = 15;
const matmulPeakFractionTarget = 0.5;

/** The issue's targets, checked and reported (never asserted): one line per miss. */
export function checkTargets(cases: readonly CaseResult[], fmaPeakGflops: number | null): string[] {
  const misses: string[] = [];
  for (const c of cases) {
    if (!ratioTargetKernels.test(c.kernel)) continue;
    const name = `${c.label} (${c.direction})`;
    if (!c.graft) misses.push(`${name}: failed, target graft >= ${ratioTarget}x tfjs not checked`);
    else if (c.ratio === undefined) misses.push(`${name}: no tfjs time, target >= ${ratioTarget}x tfjs not checked`);
    else if (c.ratio < ratioTarget) misses.push(`${name}: graft is ${c.ratio.toFixed(2)}x tfjs, target >= ${ratioTarget}x`);
  }
  const mm = cases.find((c) => c.label === matmulTargetLabel && c.direction === 'forward');
  if (mm?.graft) {
    if (mm.graft.gflops < matmulGflopsTarget) {
      misses.push(`${matmulTargetLabel}: ${mm.graft.gflops.toFixed(1)} GFLOP/s, target >= ${matmulGflopsTarget}`);
    }
    if (fmaPeakGflops !== null && mm.graft.gflops < matmulPeakFractionTarget * fmaPeakGflops) {
      misses.push(`${matmulTargetLabel}: ${mm.graft.gflops.toFixed(1)} GFLOP/s is ${((100 * mm.graft.gflops) / fmaPeakGflops).toFixed(0)}% ` +
        `of the FMA peak (${fmaPeakGflops.toFixed(1)}), target >= ${100 * matmulPeakFractionTarget}%`);
    }
  }
  return misses;
}

/** Lower-case words of the adapter name joined by '-', for the results folder. */
export function adapterSlug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60).replace(/-+$/, '') || 'unknown-adapter';
}

/** Writes a file so that readers never see it half-written: a temporary file, then a rename. */
export function writeAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = join(dirname(path), `.${process.pid}-${Date.now()}.tmp`);
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}
