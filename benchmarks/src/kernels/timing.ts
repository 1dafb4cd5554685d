/**
 * How each peer is timed, one method per peer per run:
 * - graft: where the adapter has 'timestamp-query', the sum of the compute-pass durations of one
 *   iteration, from timestamps written through `gpu.passTimestamps` (the query set is resolved
 *   once per batch of iterations). Otherwise wall time around `await gpu.sync()`.
 * - tfjs: where its device has 'timestamp-query', `tf.time()`'s kernelMs (its own per-program
 *   timestamps: also pass durations, so the two are compared like for like). Otherwise wall time
 *   around `await t.data()` for every output.
 *
 * Statistics are plain median and minimum of R per-iteration samples. The `benchmark` package was
 * not used: it times the wall clock of a function it calls itself, and cannot take the GPU
 * timestamp durations measured here as samples.
 */
import type { Gpu, GpuTensor } from '@graft/kernels';
import type * as tfcore from '@tensorflow/tfjs-core';
import type { GraftRun, TfRun, Tf } from './case.js';
import type { HostOutput } from './check.js';

export type TimingMethod = 'gpu-timestamps' | 'wall';

export interface Timing {
  method: TimingMethod;
  medianMs: number;
  minMs: number;
  samplesMs: number[];
}

export interface RepetitionPlan {
  warmup: number;
  /** At most this many timed iterations... */
  reps: number;
  /** ...at least this many... */
  minReps: number;
  /** ...and no more than this much estimated time in timed iterations. */
  budgetMs: number;
}

export function summarize(method: TimingMethod, samplesMs: number[]): Timing {
  const sorted = [...samplesMs].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  const medianMs = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { method, medianMs, minMs: sorted[0]!, samplesMs };
}

function plannedReps(plan: RepetitionPlan, warmupMs: number): number {
  const affordable = Math.floor(plan.budgetMs / Math.max(warmupMs, 1e-3));
  return Math.max(plan.minReps, Math.min(plan.reps, affordable));
}

function asList<T>(value: T | readonly T[] | void): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? [...(value as readonly T[])] : [value as T];
}

/**
 * Runs one iteration and releases the returned tensors that the iteration allocated itself (seen
 * by watching `gpu.allocate` during `run`); tensors from the case's setup are left alone.
 */
function runOnce(gpu: Gpu, graft: GraftRun, keep?: (outputs: GpuTensor[]) => Promise<void>): Promise<void> | void {
  // Keyed by buffer: an output may be a reshaped view (a new GpuTensor object) of a fresh allocation.
  const fresh = new Set<GPUBuffer>();
  const allocate = gpu.allocate;
  gpu.allocate = (...args) => {
    const t = allocate.apply(gpu, args);
    fresh.add(t.buffer);
    return t;
  };
  let outputs: GpuTensor[];
  try {
    outputs = asList(graft.run());
  } finally {
    gpu.allocate = allocate;
  }
  const releaseFresh = () => {
    const seen = new Set<GPUBuffer>();
    gpu.release(...outputs.filter((t) => fresh.has(t.buffer) && !seen.has(t.buffer) && seen.add(t.buffer)));
  };
  if (!keep) return releaseFresh();
  return keep(outputs).finally(releaseFresh);
}

/** One iteration's outputs read back to the host, before any timing (check.ts compares them). */
export async function readGraftOutputs(gpu: Gpu, graft: GraftRun): Promise<(HostOutput & { dtype: string })[]> {
  const read: (HostOutput & { dtype: string })[] = [];
  await runOnce(gpu, graft, async (outputs) => {
    for (const t of outputs) {
      const data = t.dtype === 'f32' ? await gpu.read(t) : t.dtype === 'u32' ? await gpu.readUint32(t) : await gpu.readInt32(t);
      read.push({ shape: t.shape, dtype: t.dtype, data });
    }
  });
  return read;
}

/** One iteration of the tfjs peer, its outputs read back and disposed. */
export async function readTfjsOutputs(tf: Tf, peer: TfRun): Promise<HostOutput[]> {
  const outputs = asList(peer.run());
  try {
    return await Promise.all(outputs.map(async (t) => ({ shape: t.shape, data: await t.data() })));
  } finally {
    tf.dispose(outputs);
  }
}

/** WebGPU allows at most 4096 queries per set: two per timed pass. */
const querySetCapacity = 4096;

export class GraftTimer {
  readonly method: TimingMethod;
  private readonly querySet: GPUQuerySet | null = null;
  private readonly resolveBuffer: GPUBuffer | null = null;
  private nextQuery = 0;
  private overflowed = false;

  constructor(private readonly gpu: Gpu) {
    this.method = gpu.device.features.has('timestamp-query') ? 'gpu-timestamps' : 'wall';
    if (this.method === 'gpu-timestamps') {
      this.querySet = gpu.device.createQuerySet({ type: 'timestamp', count: querySetCapacity });
      this.resolveBuffer = gpu.device.createBuffer({
        size: querySetCapacity * 8,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
    }
  }

  /** Warm-up iterations (pipeline compiles, first-touch allocations), then the timed ones. */
  async time(graft: GraftRun, plan: RepetitionPlan): Promise<Timing> {
    let warmupMs = Infinity;
    let passesPerIteration = 0;
    for (let i = 0; i < Math.max(1, plan.warmup); i++) {
      let passes = 0;
      this.gpu.passTimestamps = () => {
        passes++;
        return undefined;
      };
      const start = performance.now();
      try {
        runOnce(this.gpu, graft);
      } finally {
        this.gpu.passTimestamps = null;
      }
      await this.gpu.sync();
      warmupMs = Math.min(warmupMs, performance.now() - start);
      passesPerIteration = passes;
    }
    const reps = plannedReps(plan, warmupMs);
    const fitsQuerySet = passesPerIteration > 0 && 2 * passesPerIteration <= querySetCapacity;
    const samples = this.method === 'gpu-timestamps' && fitsQuerySet ? await this.timestampSamples(graft, reps, passesPerIteration) : null;
    return samples ? summarize('gpu-timestamps', samples) : summarize('wall', await this.wallSamples(graft, reps));
  }

  private async wallSamples(graft: GraftRun, reps: number): Promise<number[]> {
    const samples: number[] = [];
    for (let i = 0; i < reps; i++) {
      const start = performance.now();
      runOnce(this.gpu, graft);
      await this.gpu.sync();
      samples.push(performance.now() - start);
    }
    return samples;
  }

  private async timestampSamples(graft: GraftRun, reps: number, passesPerIteration: number): Promise<number[] | null> {
    const perBatch = Math.floor(querySetCapacity / (2 * passesPerIteration));
    const samples: number[] = [];
    this.gpu.passTimestamps = () => this.nextWrites();
    try {
      while (samples.length < reps) {
        const iterations = Math.min(perBatch, reps - samples.length);
        const bounds: [number, number][] = [];
        for (let i = 0; i < iterations; i++) {
          const first = this.nextQuery;
          runOnce(this.gpu, graft);
          bounds.push([first, this.nextQuery]);
        }
        if (this.overflowed) return null; // an iteration used more passes than in warm-up
        const stamps = await this.resolve();
        for (const [first, end] of bounds) {
          let ns = 0n;
          for (let q = first; q < end; q += 2) ns += stamps[q + 1]! - stamps[q]!;
          samples.push(Number(ns) / 1e6);
        }
      }
    } finally {
      this.gpu.passTimestamps = null;
      this.nextQuery = 0;
      this.overflowed = false;
    }
    return samples;
  }

  private nextWrites(): GPUComputePassTimestampWrites | undefined {
    if (this.nextQuery + 2 > querySetCapacity) {
      this.overflowed = true;
      return undefined;
    }
    const writes = { querySet: this.querySet!, beginningOfPassWriteIndex: this.nextQuery, endOfPassWriteIndex: this.nextQuery + 1 };
    this.nextQuery += 2;
    return writes;
  }

  /** Resolves the queries written since the last resolve, after the work that wrote them. */
  private async resolve(): Promise<BigUint64Array> {
    const count = this.nextQuery;
    const staging = this.gpu.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const encoder = this.gpu.commandEncoder();
      encoder.resolveQuerySet(this.querySet!, 0, count, this.resolveBuffer!, 0);
      encoder.copyBufferToBuffer(this.resolveBuffer!, 0, staging, 0, count * 8);
      await this.gpu.sync();
      await staging.mapAsync(GPUMapMode.READ);
      const stamps = new BigUint64Array(staging.getMappedRange().slice(0));
      staging.unmap();
      return stamps;
    } finally {
      staging.destroy();
      this.nextQuery = 0;
    }
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolveBuffer?.destroy();
  }
}

/** Chooses tfjs's method once, from the webgpu backend's own timestamp support. */
export function tfjsTimingMethod(tf: Tf): TimingMethod {
  const backend = tf.backend() as unknown as { supportTimestampQuery?: boolean };
  return backend.supportTimestampQuery ? 'gpu-timestamps' : 'wall';
}

export async function timeTfjs(tf: Tf, method: TimingMethod, peer: TfRun, plan: RepetitionPlan): Promise<Timing> {
  const wallIteration = async (): Promise<number> => {
    const start = performance.now();
    const outputs = asList(peer.run());
    try {
      await Promise.all(outputs.map((t) => t.data()));
    } finally {
      tf.dispose(outputs);
    }
    return performance.now() - start;
  };
  const timestampIteration = async (): Promise<number> => {
    let outputs: tfcore.Tensor[] = [];
    try {
      const info = await tf.time(() => {
        outputs = asList(peer.run());
      });
      if (typeof info.kernelMs !== 'number') throw new Error(`tf.time gave no kernelMs: ${JSON.stringify(info.kernelMs)}`);
      return info.kernelMs;
    } finally {
      tf.dispose(outputs);
    }
  };
  let warmupMs = Infinity;
  for (let i = 0; i < Math.max(1, plan.warmup); i++) warmupMs = Math.min(warmupMs, await wallIteration());
  const reps = plannedReps(plan, warmupMs);
  const iteration = method === 'gpu-timestamps' ? timestampIteration : wallIteration;
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) samples.push(await iteration());
  return summarize(method, samples);
}
