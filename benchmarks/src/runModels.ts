/**
 * Model benchmarks (issue 6, section 1): MobileNetV2 (alpha 1.0) and ResNet-50, graft against
 * TensorFlow.js's WebGPU backend (tfjs-layers models of the same architecture and weights) on the same
 * adapter in the same run: inference img/s at 224 and 160 (batch 1 and 8), training-step img/s at
 * batch 8 in three regimes (head only, last stages, everything), memory per regime, time to first
 * step. Every inference case is checked (graft's pooled features vs tfjs's on the same input) before
 * it is timed. Results: results/<adapter>/models-<date>[-quick].{json,md}. Measurement notes:
 * models/measure.ts.
 *
 * Two graft-only checks of the issue's requirements follow the comparisons:
 *   - "Memory over 1,000 steps": MobileNetV2 (nsfwjs weights) at 32x32, batch 2, 1,000 training steps
 *     per regime; graft's pool (bytes in use, buffers created) at steps 10, 100 and 1,000 must be equal.
 *     A step there takes ~20 ms (head), ~40 ms (last), ~100 ms (everything) on lavapipe: ~2.5 minutes for
 *     the three; --quick runs head and everything only.
 *   - "Fits": one ResNet-50 training step (everything trains) at batch 32, 224x224: completes or not,
 *     the pool's peak, the largest tensor and storage binding against the adapter's limits. ~2 minutes
 *     and ~4.5 GiB: full runs only.
 *
 *   pnpm --filter @graft/benchmarks bench:models [--quick] [--filter <regex>] [--train-size 224] [--no-write] [--out <dir>]
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createGpu, describeAdapter, type Gpu } from '@graft/kernels';
import { gitCommit, loadTfjsWebgpu } from './peer.js';
import { adapterSlug, writeAtomically } from './kernels/report.js';
import { models } from './models/cases.js';
import { graftFits, graftMemoryOverSteps, prepareGraftInference, prepareGraftTrain, prepareTfjsInference, prepareTfjsTrain, seededInput, timeAlternating, type Regime, type RepetitionPlan } from './models/measure.js';
import type { TfAll } from './models/peers.js';
import { caseLabel, fitCaseLabel, memoryCaseLabel, modelMarkdown, type FitCaseResult, type MemoryCaseResult, type ModelCaseResult, type ModelReport } from './models/report.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const defaultOut = resolve(here, '..', 'results');
/** Inference outputs must agree within this, relative to the largest tfjs value (ResNet-50's random-weight features are ~0.1). */
const tolerance = 1e-3;
const classes = 5;
/** Small, so the weights graft and tfjs train stay close enough across regimes for the loss check. */
const lr = 1e-5;
/** "GPU memory after step 10 equals memory after step 1,000": steps, where the pool is read, and the (small) shape that makes 1,000 steps affordable. */
const memorySteps = 1000;
const memoryAt = [10, 100, memorySteps];
const memoryShape = { size: 32, batch: 2 };
/** "Training ResNet-50 at batch 32, 224x224 fits in the adapter's limits". */
const fitShape = { size: 224, batch: 32 };

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

function compare(ours: Float32Array, theirs: Float32Array): { ok: boolean; summary: string } {
  if (ours.length !== theirs.length) return { ok: false, summary: `graft gave ${ours.length} values, tfjs ${theirs.length}` };
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < ours.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(ours[i]! - theirs[i]!));
    maxRef = Math.max(maxRef, Math.abs(theirs[i]!));
  }
  const ok = maxAbs <= tolerance * maxRef && Number.isFinite(maxAbs);
  return { ok, summary: `max abs diff ${maxAbs.toExponential(1)} (largest tfjs value ${maxRef.toFixed(2)})` };
}

interface Options {
  quick: boolean;
  filter: RegExp | null;
  trainSize: number;
  out: string | null;
}

export async function runModelBenchmarks(options: Options, log = (line: string) => console.log(line)) {
  const plan: RepetitionPlan = options.quick ? { warmup: 0, reps: 1 } : { warmup: 1, reps: 3 };
  const gpu = await createGpu();
  const adapter = describeAdapter(gpu.adapter!, gpu.device);
  const tf = await loadTfjsWebgpu(gpu);
  log(`adapter: ${adapter.name}; tfjs ${tf.version.tfjs} webgpu backend`);
  const inferenceShapes: [size: number, batch: number][] = [[224, 1], [224, 8], [160, 1], [160, 8]];
  const sizes = [...new Set([...inferenceShapes.map(([s]) => s), options.trainSize])];
  const regimes: Regime[] = ['head', 'last', 'all'];
  const cases: ModelCaseResult[] = [];
  const selected = (c: ModelCaseResult) => !options.filter || options.filter.test(`${c.model} ${caseLabel(c)}`);

  for (const spec of models) {
    const planned: ModelCaseResult[] = [
      ...inferenceShapes.map(([size, batch]): ModelCaseResult => ({ model: spec.name, kind: 'inference', size, batch })),
      ...regimes.map((regime): ModelCaseResult => ({ model: spec.name, kind: 'training', regime, size: options.trainSize, batch: 8, regimeDetail: regime === 'last' ? spec.lastLabel : undefined })),
    ].filter(selected);
    if (!planned.length) continue;
    log(`${spec.name}: setting up graft and tfjs models ...`);
    const pair = await spec.setup(gpu, tf, sizes);
    try {
      for (const c of planned) {
        log(`${spec.name} ${caseLabel(c)} ...`);
        const shape = [c.batch, c.size, c.size, 3];
        const input = seededInput(c.batch * c.size * c.size * 3);
        const peer = pair.tfjs.get(c.size)!;
        try {
          if (c.kind === 'inference') {
            const g = prepareGraftInference(gpu, pair.graft, input, shape);
            const t = prepareTfjsInference(tf, peer, input, shape);
            try {
              // Check, then time: the first steps' outputs are compared before any timed step runs.
              const r = await timeAlternating(g.step, t.step, plan, c.batch, (ours, theirs) => {
                const outcome = compare(ours, theirs);
                c.check = `${outcome.ok ? 'matched' : 'MISMATCH'}: ${outcome.summary}`;
                if (!outcome.ok) throw new Error(`graft and tfjs disagree, not timed: ${outcome.summary}`);
              });
              c.graft = r.graft.timing;
              c.tfjs = r.peer!.timing;
            } finally {
              await g.finish();
              await t.finish();
            }
          } else {
            const labels = Uint32Array.from({ length: c.batch }, (_, i) => i % classes);
            const setup = { modelName: spec.key, backbone: pair.graft, numFeatures: spec.numFeatures, classes, lastUnits: spec.lastUnits, lr };
            const g = await prepareGraftTrain(gpu, setup, c.regime!, input, shape, labels);
            let t: ReturnType<typeof prepareTfjsTrain> | null = null;
            try {
              t = prepareTfjsTrain(tf, peer, setup, c.regime!, spec.lastLayers, g.headWeights, input, shape, labels);
            } catch (error) {
              c.tfjsError = message(error);
            }
            try {
              const r = await timeAlternating(g.step, t?.step ?? null, plan, c.batch, (ours, theirs) => {
                const diff = Math.abs(ours - theirs);
                const params = g.trainableParameters === t!.trainableParameters ? '' : `; trainable parameters differ: graft ${g.trainableParameters}, tfjs ${t!.trainableParameters}`;
                c.check = `${diff <= tolerance ? 'matched' : 'MISMATCH'}: first loss graft ${ours.toFixed(5)}, tfjs ${theirs.toFixed(5)}${params}`;
              });
              c.graft = { ...r.graft.timing, memory: await g.finish(), trainableParameters: g.trainableParameters };
              if (t && r.peer) c.tfjs = { ...r.peer.timing, memory: await t.finish(), trainableParameters: t.trainableParameters };
            } catch (error) {
              await g.finish().catch(() => {});
              await t?.finish().catch(() => {});
              throw error;
            }
          }
          if (c.graft && c.tfjs) c.ratio = c.graft.imagesPerSecond / c.tfjs.imagesPerSecond;
          log(`  graft ${c.graft?.imagesPerSecond.toFixed(2)} img/s, tfjs ${c.tfjs?.imagesPerSecond.toFixed(2) ?? c.tfjsError} img/s; ${c.check ?? ''}`);
        } catch (error) {
          c.error = message(error);
          log(`  failed: ${c.error}`);
          await gpu.sync().catch(() => {});
        }
        cases.push(c);
      }
    } finally {
      // Optimizer.release encodes copies out of its arenas: they must run before the buffers are freed and trimmed.
      await gpu.sync();
      pair.dispose();
      await gpu.sync();
      gpu.pool.trim();
    }
  }

  const memoryOverSteps: MemoryCaseResult[] = [];
  const fits: FitCaseResult[] = [];
  const memoryRegimes: Regime[] = options.quick ? ['head', 'all'] : regimes;
  for (const spec of models) {
    // Memory over steps: MobileNetV2 only (ResNet-50's 'everything' step at 32 px would make 1,000 steps several minutes more).
    const memoryPlanned: MemoryCaseResult[] = spec.key === 'mobilenet_v2' ? memoryRegimes.map((regime) => ({ model: spec.name, regime, steps: memorySteps, ...memoryShape })) : [];
    const fitPlanned: FitCaseResult[] = spec.key === 'resnet50' && !options.quick ? [{ model: spec.name, regime: 'all', ...fitShape }] : [];
    const memoryCases = memoryPlanned.filter((c) => !options.filter || options.filter.test(`${c.model} ${memoryCaseLabel(c)}`));
    const fitCases = fitPlanned.filter((c) => !options.filter || options.filter.test(`${c.model} ${fitCaseLabel(c)}`));
    if (!memoryCases.length && !fitCases.length) continue;
    const backbone = await spec.graftOnly(gpu);
    const setup = { modelName: spec.key, backbone, numFeatures: spec.numFeatures, classes, lastUnits: spec.lastUnits, lr };
    try {
      for (const c of memoryCases) {
        log(`${c.model} ${memoryCaseLabel(c)} ...`);
        try {
          const shape = [c.batch, c.size, c.size, 3];
          const labels = Uint32Array.from({ length: c.batch }, (_, i) => i % classes);
          c.result = await graftMemoryOverSteps(gpu, setup, c.regime, seededInput(c.batch * c.size * c.size * 3), shape, labels, c.steps, memoryAt);
          const points = c.result.points.map((p) => `step ${p.step}: ${p.bytesInUse} B, ${p.buffersCreated} buffers`).join('; ');
          log(`  ${c.result.flat ? 'flat' : 'GROWS'}: ${points}; ${(c.result.totalMs / 1e3).toFixed(1)} s`);
        } catch (error) {
          c.error = message(error);
          log(`  failed: ${c.error}`);
          await gpu.sync().catch(() => {});
        }
        memoryOverSteps.push(c);
      }
      for (const c of fitCases) {
        log(`${c.model} ${fitCaseLabel(c)} ...`);
        try {
          const shape = [c.batch, c.size, c.size, 3];
          const labels = Uint32Array.from({ length: c.batch }, (_, i) => i % classes);
          const r = await graftFits(gpu, setup, c.regime, seededInput(c.batch * c.size * c.size * 3), shape, labels);
          c.result = r;
          log(`  ${r.completed ? 'completed' : `did not complete: ${r.error}`} in ${(r.stepMs / 1e3).toFixed(1)} s; peak ${(r.peakBytes / 2 ** 20).toFixed(0)} MiB; ` +
            `largest tensor ${((r.largestTensor?.bytes ?? 0) / 2 ** 20).toFixed(1)} MiB [${r.largestTensor?.shape ?? ''}]`);
        } catch (error) {
          c.error = message(error);
          log(`  failed: ${c.error}`);
          await gpu.sync().catch(() => {});
        }
        fits.push(c);
      }
    } finally {
      await gpu.sync();
      backbone.release();
      await gpu.sync();
      gpu.pool.trim();
    }
  }

  const report: ModelReport = {
    date: new Date().toISOString(),
    commit: gitCommit(),
    adapter: { name: adapter.name, vendor: adapter.vendor, architecture: adapter.architecture, software: adapter.software },
    node: process.version,
    tfjs: tf.version.tfjs,
    quick: options.quick,
    plan,
    timing: 'wall clock per whole step, ending in a read of the output (features or loss) to the host, both peers',
    cases,
    memoryOverSteps,
    fits,
    notMeasured: [
      'GPU-side memory of tfjs beyond live tensors (its buffer manager pools freed buffers; tf.memory() does not count them), and graft memory outside its pool (uniforms, pipelines).',
      'Inference memory (training regimes only).',
    ],
  };
  const markdown = modelMarkdown(report);
  log('');
  log(markdown);
  let files: { json: string; md: string } | null = null;
  if (options.out !== null) {
    const stem = join(options.out, adapterSlug(adapter.name), `models-${report.date.slice(0, 10)}${options.filter ? '-filtered' : ''}${options.quick ? '-quick' : ''}`);
    files = { json: `${stem}.json`, md: `${stem}.md` };
    writeAtomically(files.json, `${JSON.stringify(report, null, 2)}\n`);
    writeAtomically(files.md, markdown);
    log(`wrote ${files.json}`);
  }
  tf.engine().reset();
  gpu.destroy();
  return { report, markdown, files };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      filter: { type: 'string' },
      'train-size': { type: 'string', default: '224' },
      out: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const trainSize = Number(values['train-size']);
  if (!(Number.isInteger(trainSize) && trainSize >= 32)) throw new Error(`--train-size expects an integer >= 32, got ${values['train-size']}`);
  await runModelBenchmarks({
    quick: values.quick,
    filter: values.filter ? new RegExp(values.filter, 'i') : null,
    trainSize,
    out: values['no-write'] ? null : (values.out ?? defaultOut),
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`bench:models: ${error instanceof Error ? (process.env.GRAFT_DEBUG ? error.stack : error.message) : String(error)}`);
    process.exit(1);
  });
}
