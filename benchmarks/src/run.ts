/**
 * Kernel benchmarks: every case in kernels/cases/*.ts, graft against TensorFlow.js's WebGPU backend
 * on the same adapter, plus an FMA ceiling probe, written to results/<adapter>/kernels-<date>.{json,md}.
 *
 *   pnpm --filter @graft/benchmarks bench [--filter <regex>] [--quick] [--out <dir>] [--reps <n>]
 *                                         [--dawn-toggles a,b]
 *
 * Also importable: `runKernelBenchmarks(options)` (the CLI's `graft bench`).
 */
import { readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createGpu, describeAdapter, type Gpu } from '@graft/kernels';
import { gitCommit, loadTfjsWebgpu } from './peer.js';
import type { KernelBenchCase, Tf, TfRun } from './kernels/case.js';
import { compareWithPeer, firstNonFinite, type HostOutput } from './kernels/check.js';
import { measureFmaPeak, type FmaPeak } from './kernels/fmaPeak.js';
import { adapterSlug, checkTargets, markdownTable, noTfjsPeer, writeAtomically, type CaseResult, type KernelReport } from './kernels/report.js';
import { GraftTimer, readGraftOutputs, readTfjsOutputs, tfjsTimingMethod, timeTfjs, type RepetitionPlan, type TimingMethod } from './kernels/timing.js';

export interface KernelBenchOptions {
  /** Only cases whose "kernel label direction" (or case file name) matches. */
  filter?: string | RegExp;
  /** Fewer repetitions, for smoke checks. */
  quick?: boolean;
  /** Results folder (default benchmarks/results); null writes no files. */
  out?: string | null;
  /** Timed repetitions per case and peer (default 10, quick 3). */
  reps?: number;
  /** Dawn toggles for graft's and tfjs's devices (they share one instance), e.g. ['disable_robustness']. */
  dawnToggles?: string[];
  /** Where progress and the table go (default console.log). */
  log?: (line: string) => void;
}

export interface KernelBenchResult {
  report: KernelReport;
  markdown: string;
  files: { json: string; md: string } | null;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const casesDir = join(here, 'kernels', 'cases');
const defaultOut = resolve(here, '..', 'results');

export interface LoadedCase {
  file: string;
  benchCase?: KernelBenchCase;
  error?: string;
}

/** Imports every case file; a file that fails to import becomes one failed row, not a crash. */
export async function loadCases(): Promise<LoadedCase[]> {
  const files = readdirSync(casesDir)
    .filter((f) => /\.(ts|js|mjs)$/.test(f) && !f.endsWith('.d.ts'))
    .sort();
  const loaded: LoadedCase[] = [];
  for (const file of files) {
    try {
      const module = (await import(pathToFileURL(join(casesDir, file)).href)) as { cases?: unknown };
      if (!Array.isArray(module.cases)) throw new Error('exports no `cases` array');
      for (const benchCase of module.cases as KernelBenchCase[]) loaded.push({ file, benchCase });
    } catch (error) {
      loaded.push({ file, error: `import failed: ${message(error)}` });
    }
  }
  return loaded;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function runKernelBenchmarks(options: KernelBenchOptions = {}): Promise<KernelBenchResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const quick = !!options.quick;
  const filter = options.filter === undefined ? null : typeof options.filter === 'string' ? new RegExp(options.filter, 'i') : options.filter;
  const plan: RepetitionPlan = quick
    ? { warmup: 1, reps: options.reps ?? 3, minReps: 2, budgetMs: 1_500 }
    : { warmup: 2, reps: options.reps ?? 10, minReps: 5, budgetMs: 8_000 };
  const dawnToggles = options.dawnToggles ?? [];

  const gpu = await createGpu({ dawnToggles });
  const adapter = describeAdapter(gpu.adapter!, gpu.device);
  const timer = new GraftTimer(gpu);
  log(`adapter: ${adapter.name} (${adapter.software ? 'software' : 'hardware'}); graft timing: ${timer.method}`);

  let tf: Tf | null = null;
  let tfMethod: TimingMethod | null = null;
  let tfjsUnavailable: string | undefined;
  try {
    tf = (await loadTfjsWebgpu(gpu)) as unknown as Tf;
    tfMethod = tfjsTimingMethod(tf);
    log(`tfjs ${tf.version_core} webgpu backend; tfjs timing: ${tfMethod}`);
  } catch (error) {
    tfjsUnavailable = `tfjs-webgpu unavailable: ${message(error)}`;
    log(tfjsUnavailable);
  }

  let fmaPeak: FmaPeak | null = null;
  try {
    fmaPeak = await measureFmaPeak(gpu, timer, plan, quick ? 20 : 50);
    log(`FMA peak: ${fmaPeak.gflops.toFixed(1)} GFLOP/s (${fmaPeak.timing.medianMs.toFixed(2)} ms, ${fmaPeak.iterations} iterations)`);
  } catch (error) {
    log(`FMA peak probe failed: ${message(error)}`);
  }

  const results = await runSelectedCases({ gpu, timer, tf, tfMethod, tfjsUnavailable, filter, plan, peakGflops: fmaPeak?.gflops ?? null, log });

  const report: KernelReport = {
    date: new Date().toISOString(),
    commit: gitCommit(),
    adapter: { name: adapter.name, vendor: adapter.vendor, architecture: adapter.architecture, software: adapter.software },
    node: process.version,
    dawnToggles,
    quick,
    filter: filter?.source ?? null,
    timing: { graft: timer.method, tfjs: tfMethod },
    fmaPeak: fmaPeak && { gflops: fmaPeak.gflops, ms: fmaPeak.timing.medianMs, iterations: fmaPeak.iterations, invocations: fmaPeak.invocations },
    cases: results,
    targets: checkTargets(results, fmaPeak?.gflops ?? null),
  };
  const markdown = markdownTable(report);
  log('');
  log(markdown);

  let files: KernelBenchResult['files'] = null;
  const out = options.out === undefined ? defaultOut : options.out;
  if (out !== null) {
    const suffix = `${dawnToggles.length ? `-${dawnToggles.join('+')}` : ''}${filter ? '-filtered' : ''}${quick ? '-quick' : ''}`;
    const stem = join(out, adapterSlug(adapter.name), `kernels-${report.date.slice(0, 10)}${suffix}`);
    files = { json: `${stem}.json`, md: `${stem}.md` };
    writeAtomically(files.json, `${JSON.stringify(report, null, 2)}\n`);
    writeAtomically(files.md, markdown);
    log(`wrote ${files.json}`);
  }

  timer.destroy();
  tf?.engine().reset();
  gpu.destroy();
  return { report, markdown, files };
}

interface RunContext {
  gpu: Gpu;
  timer: GraftTimer;
  tf: Tf | null;
  tfMethod: TimingMethod | null;
  tfjsUnavailable: string | undefined;
  filter: RegExp | null;
  plan: RepetitionPlan;
  peakGflops: number | null;
  log: (line: string) => void;
}

async function runSelectedCases(ctx: RunContext): Promise<CaseResult[]> {
  const { filter, log } = ctx;
  // A case that leaves a promise rejecting unobserved must not end the run: the rejection is pinned
  // on the case being run when it arrives.
  const stray: string[] = [];
  const onStray = (reason: unknown) => void stray.push(message(reason));
  process.on('unhandledRejection', onStray);
  const results: CaseResult[] = [];
  try {
    for (const { file, benchCase, error } of await loadCases()) {
      if (!benchCase) {
        // Reported whatever the filter: the file's cases cannot be matched against it when it does not load.
        results.push({ kernel: basename(file).replace(/\.[^.]+$/, ''), label: file, direction: '-', file, flops: 0, bytes: 0, error });
        log(`${file}: ${error}`);
        continue;
      }
      const name = `${benchCase.kernel} ${benchCase.label} ${benchCase.direction}`;
      if (filter && !filter.test(name) && !filter.test(file)) continue;
      log(`${benchCase.label} (${benchCase.direction}) ...`);
      const result = await runCase(ctx, benchCase, file);
      if (ctx.tfjsUnavailable && !result.tfjsError && benchCase.tfjs) result.tfjsError = ctx.tfjsUnavailable;
      if (stray.length) result.error = [result.error, ...stray.splice(0)].filter(Boolean).join('; unhandled rejection: ');
      if (result.error) log(`  failed: ${result.error}`);
      results.push(result);
    }
  } finally {
    process.off('unhandledRejection', onStray);
  }
  if (filter && !results.some((r) => r.direction !== '-')) throw new Error(`no benchmark case matches --filter ${filter.source}`);
  return results;
}

async function runCase({ gpu, timer, tf, tfMethod, plan, peakGflops }: RunContext, c: KernelBenchCase, file: string): Promise<CaseResult> {
  const result: CaseResult = { kernel: c.kernel, label: c.label, direction: c.direction, file, flops: c.flops, bytes: c.bytes };
  // The peer built for the check is kept for timing, so its setup runs once.
  let peer: TfRun | null = null;
  const disposePeer = () => {
    const p = peer;
    peer = null;
    try {
      p?.dispose();
    } catch {
      // already recorded or irrelevant: the case's outcome stands
    }
  };
  try {
    const run = c.graft(gpu);
    try {
      // Check, then time: a case whose outputs are wrong is a failed row, not a timing.
      const outputs = await readGraftOutputs(gpu, run);
      const nonFinite = firstNonFinite(outputs);
      if (nonFinite) throw new Error(nonFinite);
      const check = c.checkAgainstPeer;
      if (check && 'skip' in check) result.check = `not compared: ${check.skip}`;
      else if (!c.tfjs) result.check = `not compared: ${noTfjsPeer}`;
      else if (!tf) result.check = 'not compared: tfjs unavailable';
      else {
        let peerOutputs: HostOutput[] | null = null;
        try {
          peer = c.tfjs(tf);
          peerOutputs = await readTfjsOutputs(tf, peer);
        } catch (error) {
          result.tfjsError = message(error);
          result.check = 'not compared: the tfjs peer failed';
          disposePeer();
        }
        if (peerOutputs) {
          const outcome = compareWithPeer(outputs, peerOutputs, check);
          if (!outcome.ok) throw new Error(outcome.message);
          result.check = outcome.summary;
        }
      }
      const timing = await timer.time(run, plan);
      const seconds = timing.medianMs / 1e3;
      const gflops = c.flops / seconds / 1e9;
      result.graft = { ...timing, gflops, gbps: c.bytes / seconds / 1e9, peakFraction: peakGflops ? gflops / peakGflops : null };
    } finally {
      run.dispose();
      await gpu.sync();
    }
  } catch (error) {
    result.error = message(error);
    disposePeer();
    gpu.passTimestamps = null;
    await gpu.sync().catch(() => {}); // the error is recorded; clear what the failed case left pending
    return result;
  }
  if (!c.tfjs) {
    result.tfjsError = noTfjsPeer;
  } else if (tf && tfMethod && !result.tfjsError) {
    try {
      peer ??= c.tfjs(tf);
      result.tfjs = await timeTfjs(tf, tfMethod, peer, plan);
      result.ratio = result.tfjs.medianMs / result.graft!.medianMs;
    } catch (error) {
      result.tfjsError = message(error);
    } finally {
      disposePeer();
    }
  }
  return result;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      filter: { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      reps: { type: 'string' },
      'dawn-toggles': { type: 'string' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const reps = values.reps === undefined ? undefined : Number(values.reps);
  if (reps !== undefined && !(Number.isInteger(reps) && reps > 0)) throw new Error(`--reps expects a positive integer, got ${values.reps}`);
  await runKernelBenchmarks({
    filter: values.filter,
    quick: values.quick,
    out: values['no-write'] ? null : values.out,
    reps,
    dawnToggles: values['dawn-toggles']?.split(',').filter(Boolean),
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`bench: ${error instanceof Error ? (process.env.GRAFT_DEBUG ? error.stack : error.message) : String(error)}`);
    process.exit(1);
  });
}
