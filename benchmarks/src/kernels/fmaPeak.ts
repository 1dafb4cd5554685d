/**
 * The FMA ceiling probe (fmaPeak.wgsl), timed like every graft case in the same run. Its size is
 * calibrated so one dispatch lasts about `targetMs`: long enough that launch overhead and timer
 * resolution vanish, short enough to keep the run quick on a CPU driver. The loop stays long (at
 * least 1024 steps) so per-invocation costs (start-up, the final store) stay below 1% of the work;
 * the workgroup count grows first, which also fills every core of a large GPU.
 */
import { defineKernel, type Gpu } from '@graft/kernels';
import type { GraftRun } from './case.js';
import type { GraftTimer, RepetitionPlan, Timing } from './timing.js';

const kernel = defineKernel('fmaPeak', import.meta.url);
const workgroupSize = 64; // WORKGROUP_SIZE in the WGSL
const flopsPerIteration = 8 * 4 * 2; // 8 vec4 chains x 4 lanes x 2 FLOPs per FMA
const minIterations = 1024;
const minWorkgroups = 64;

export interface FmaPeak {
  gflops: number;
  iterations: number;
  invocations: number;
  timing: Timing;
}

interface ProbeSize {
  workgroups: number;
  iterations: number;
}

function probe(gpu: Gpu, { workgroups, iterations }: ProbeSize): GraftRun {
  const out = gpu.allocate([workgroups * workgroupSize]);
  return {
    run: () => {
      gpu.dispatch(kernel, { bindings: [out], uniforms: { iterations, multiplier: 0.999 }, workgroups: [workgroups] });
      return out;
    },
    dispose: () => gpu.release(out),
  };
}

async function timeProbe(gpu: Gpu, timer: GraftTimer, size: ProbeSize, plan: RepetitionPlan): Promise<Timing> {
  const run = probe(gpu, size);
  try {
    return await timer.time(run, plan);
  } finally {
    run.dispose();
  }
}

/** Grows the probe by `factor`: workgroups first (up to the device limit), then the loop. */
function grow(size: ProbeSize, factor: number, maxWorkgroups: number): ProbeSize {
  const workgroups = Math.max(minWorkgroups, Math.min(maxWorkgroups, Math.round(size.workgroups * factor)));
  const rest = (size.workgroups * factor) / workgroups;
  return { workgroups, iterations: Math.max(minIterations, Math.round(size.iterations * rest)) };
}

export async function measureFmaPeak(gpu: Gpu, timer: GraftTimer, plan: RepetitionPlan, targetMs: number): Promise<FmaPeak> {
  const maxWorkgroups = gpu.limits.maxComputeWorkgroupsPerDimension;
  let size: ProbeSize = { workgroups: minWorkgroups, iterations: minIterations };
  for (;;) {
    const once = await timeProbe(gpu, timer, size, { warmup: 1, reps: 1, minReps: 1, budgetMs: 0 });
    if (once.medianMs >= targetMs / 4) {
      size = grow(size, targetMs / once.medianMs, maxWorkgroups);
      break;
    }
    size = grow(size, 8, maxWorkgroups);
  }
  const timing = await timeProbe(gpu, timer, size, plan);
  const invocations = size.workgroups * workgroupSize;
  const flops = invocations * size.iterations * flopsPerIteration;
  return { gflops: flops / (timing.medianMs * 1e6), iterations: size.iterations, invocations, timing };
}
