/**
 * The FMA ceiling probe (fmaPeak.wgsl), timed like every graft case in the same run. The loop count
 * is calibrated so one dispatch lasts about `targetMs`: long enough that launch overhead and timer
 * resolution vanish, short enough to keep the run quick on a CPU driver.
 */
import { defineKernel, type Gpu } from '@graft/kernels';
import type { GraftRun } from './case.js';
import type { GraftTimer, RepetitionPlan, Timing } from './timing.js';

const kernel = defineKernel('fmaPeak', import.meta.url);
const workgroupSize = 64; // WORKGROUP_SIZE in the WGSL
/** 4096 x 64 = 262144 invocations: enough to keep every core of a large GPU busy, and every CPU thread. */
const workgroups = 4096;
const flopsPerIteration = 8 * 4 * 2; // 8 vec4 chains x 4 lanes x 2 FLOPs per FMA

export interface FmaPeak {
  gflops: number;
  iterations: number;
  invocations: number;
  timing: Timing;
}

function probe(gpu: Gpu, iterations: number): GraftRun {
  const out = gpu.allocate([workgroups * workgroupSize]);
  return {
    run: () => {
      gpu.dispatch(kernel, { bindings: [out], uniforms: { iterations, multiplier: 0.999 }, workgroups: [workgroups] });
      return out;
    },
    dispose: () => gpu.release(out),
  };
}

export async function measureFmaPeak(gpu: Gpu, timer: GraftTimer, plan: RepetitionPlan, targetMs: number): Promise<FmaPeak> {
  const invocations = workgroups * workgroupSize;
  let iterations = 16;
  // Calibrate: grow the loop until one dispatch takes a measurable while, then scale to the target.
  for (;;) {
    const run = probe(gpu, iterations);
    try {
      const quick = await timer.time(run, { warmup: 1, reps: 1, minReps: 1, budgetMs: 0 });
      if (quick.medianMs >= targetMs / 8 || iterations >= 1 << 20) {
        iterations = Math.max(1, Math.round((iterations * targetMs) / Math.max(quick.medianMs, 1e-3)));
        break;
      }
      iterations *= 8;
    } finally {
      run.dispose();
    }
  }
  const run = probe(gpu, iterations);
  try {
    const timing = await timer.time(run, plan);
    const flops = invocations * iterations * flopsPerIteration;
    return { gflops: flops / (timing.medianMs * 1e6), iterations, invocations, timing };
  } finally {
    run.dispose();
  }
}
