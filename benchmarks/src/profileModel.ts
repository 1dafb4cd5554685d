/**
 * Where a model step's time goes: every compute pass of one MobileNetV2 or ResNet-50 inference (or
 * training step) timed with GPU timestamps, summed per kernel, beside the step's wall time. The gap
 * between the two is host-side work (recording, encoding, bind groups) plus queue overhead. A tool
 * for deciding what to optimise, not a benchmark: it runs graft only.
 *
 *   tsx --conditions=source src/profileModel.ts [--model mobilenet_v2|resnet50] [--size 224] [--batch 8]
 *       [--mode inference|head|last|all] [--units N (for last)] [--reps 3] [--detail] [--top 15]
 */
import { parseArgs } from 'node:util';
import { Adam, backward, noGrad, softmaxCrossEntropy, tensor, type Layer, type Module } from '@graft/autograd';
import { createGpu, type DispatchSpec, type Gpu } from '@graft/kernels';
import { graftHead } from '@graft/models';
import { GraftModel } from '@graft/cli';
import { models } from './models/cases.js';
import { seededInput } from './models/measure.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'mobilenet_v2' },
    size: { type: 'string', default: '224' },
    batch: { type: 'string', default: '8' },
    mode: { type: 'string', default: 'inference' },
    reps: { type: 'string', default: '3' },
    units: { type: 'string' },
    top: { type: 'string', default: '15' },
    detail: { type: 'boolean' },
    toggles: { type: 'string', default: '' },
  },
});
const size = Number(values.size);
const batch = Number(values.batch);
const reps = Number(values.reps);

const detailed = values.detail !== undefined;
/** A pass's row in the table: the kernel, or with --detail its entry point and uniforms too. */
function label(kernel: string, spec: DispatchSpec): string {
  if (!detailed) return kernel;
  const u = spec.uniforms ?? {};
  const dims = ['m', 'n', 'k'].every((f) => f in u) ? ` m${u.m} n${u.n} k${u.k}` : ` ${JSON.stringify(u).slice(0, 60)}`;
  return `${kernel}:${spec.entryPoint ?? 'main'}${dims}`;
}

/** Timestamps for every pass of one step; WebGPU caps a query set at 4096 queries, so several sets. */
class PassProfiler {
  private sets: { querySet: GPUQuerySet; names: string[] }[] = [];
  constructor(private readonly gpu: Gpu) {}

  start(): void {
    this.sets = [];
    this.gpu.passTimestamps = (kernel, spec) => {
      let current = this.sets[this.sets.length - 1];
      if (!current || current.names.length === 2048) {
        current = { querySet: this.gpu.device.createQuerySet({ type: 'timestamp', count: 4096 }), names: [] };
        this.sets.push(current);
      }
      const index = current.names.length * 2;
      current.names.push(label(kernel, spec));
      return { querySet: current.querySet, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 };
    };
  }

  /** Milliseconds per kernel name, summed over the passes recorded since start(). */
  async stop(): Promise<Map<string, { ms: number; passes: number }>> {
    this.gpu.passTimestamps = null;
    const totals = new Map<string, { ms: number; passes: number }>();
    for (const { querySet, names } of this.sets) {
      const bytes = names.length * 16;
      const resolved = this.gpu.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      const staging = this.gpu.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const encoder = this.gpu.commandEncoder();
      encoder.resolveQuerySet(querySet, 0, names.length * 2, resolved, 0);
      encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
      await this.gpu.sync();
      await staging.mapAsync(GPUMapMode.READ);
      const stamps = new BigInt64Array(staging.getMappedRange());
      names.forEach((name, i) => {
        const entry = totals.get(name) ?? { ms: 0, passes: 0 };
        entry.ms += Number(stamps[2 * i + 1]! - stamps[2 * i]!) / 1e6;
        entry.passes++;
        totals.set(name, entry);
      });
      staging.unmap();
      for (const b of [resolved, staging]) b.destroy();
      querySet.destroy();
    }
    return totals;
  }
}

async function buildBackbone(gpu: Gpu): Promise<{ backbone: Module & Layer; numFeatures: number; key: 'mobilenet_v2' | 'resnet50' }> {
  const spec = models.find((m) => m.key === values.model);
  if (!spec) throw new Error(`--model: expected one of ${models.map((m) => m.key).join(', ')}, got ${values.model}`);
  return { backbone: await spec.graftOnly(gpu), numFeatures: spec.numFeatures, key: spec.key };
}

const gpu = await createGpu({ dawnToggles: values.toggles.split(',').filter(Boolean) });
const { backbone, numFeatures, key } = await buildBackbone(gpu);
const x = tensor(gpu, seededInput(batch * size * size * 3), [batch, size, size, 3]);
let step: () => Promise<void>;
if (values.mode === 'inference') {
  step = async () => {
    const y = noGrad(() => backbone.forward(x));
    await y.read();
    y.release();
  };
} else {
  const head = graftHead(gpu, numFeatures, { classes: 5 });
  const gm = new GraftModel({ backbone, model: key, flavour: 'keras', numFeatures } as ConstructorParameters<typeof GraftModel>[0], head);
  if (values.mode === 'last') gm.setTrainable(Number(values.units ?? (key === 'resnet50' ? 1 : 3)), 'frozen');
  if (values.mode === 'all') gm.setTrainable(gm.units.length, 'train');
  gm.train();
  const optimizer = new Adam(gm.model, { lr: 1e-5 });
  const labels = Uint32Array.from({ length: batch }, (_, i) => i % 5);
  step = async () => {
    const loss = gm.trainStep(x, labels, optimizer);
    await loss.read();
    loss.release();
  };
}

await step(); // compile pipelines, first-touch allocations
const profiler = new PassProfiler(gpu);
for (let r = 0; r < reps; r++) {
  const start = performance.now();
  await step();
  const wallMs = performance.now() - start;
  profiler.start();
  await step();
  const totals = await profiler.stop();
  const gpuMs = [...totals.values()].reduce((s, t) => s + t.ms, 0);
  const passes = [...totals.values()].reduce((s, t) => s + t.passes, 0);
  console.log(`\n${values.model} ${values.mode} ${size}px b${batch}: wall ${wallMs.toFixed(0)} ms, GPU passes ${gpuMs.toFixed(0)} ms over ${passes} passes (${((100 * gpuMs) / wallMs).toFixed(0)}% of wall)`);
  if (r === reps - 1) {
    const rows = [...totals.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(values.top));
    for (const [name, t] of rows) console.log(`  ${name.padEnd(detailed ? 70 : 40)} ${t.ms.toFixed(1).padStart(8)} ms ${String(t.passes).padStart(5)} passes ${((100 * t.ms) / gpuMs).toFixed(1).padStart(5)}%`);
  }
}
process.exit(0);
