/**
 * A/B of one of graft's optional optimisations on a whole model step: the same model and input run
 * with the switch on and off in alternating rounds (so load from other processes falls on both
 * sides alike), wall time per step ending in a read, medians and their ratio. How the gains in
 * docs/performance.md were measured; it changes no default.
 *
 *   tsx --conditions=source src/modelAB.ts [--switch fusion] [--model mobilenet_v2|resnet50]
 *       [--size 224] [--batch 8] [--rounds 7]
 */
import { parseArgs } from 'node:util';
import { fusion, noGrad, tensor, type Layer, type Module } from '@graft/autograd';
import { createGpu, type Gpu } from '@graft/kernels';
import { models } from './models/cases.js';
import { seededInput } from './models/measure.js';

const { values } = parseArgs({
  options: {
    switch: { type: 'string', default: 'fusion' },
    model: { type: 'string', default: 'mobilenet_v2' },
    size: { type: 'string', default: '224' },
    batch: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '7' },
  },
});

/** Each switch: how to turn it on or off. */
const switches: Record<string, (on: boolean, gpu: Gpu) => void> = {
  fusion: (on) => (fusion.convBatchNorm = on),
};

async function backbone(gpu: Gpu): Promise<Module & Layer> {
  const spec = models.find((m) => m.key === values.model);
  if (!spec) throw new Error(`--model: expected one of ${models.map((m) => m.key).join(', ')}, got ${values.model}`);
  return spec.graftOnly(gpu);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const chosen = switches[values.switch];
if (!chosen) throw new Error(`--switch: expected one of ${Object.keys(switches).join(', ')}, got ${values.switch}`);
const [size, batch, rounds] = [Number(values.size), Number(values.batch), Number(values.rounds)];
const gpu = await createGpu();
const toggle = (on: boolean) => chosen(on, gpu);
const model = await backbone(gpu);
const x = tensor(gpu, seededInput(batch * size * size * 3), [batch, size, size, 3]);
const step = async () => {
  const start = performance.now();
  const y = noGrad(() => model.forward(x));
  const out = await y.read();
  y.release();
  return { ms: performance.now() - start, out };
};
const samples: Record<'on' | 'off', number[]> = { on: [], off: [] };
const outputs: Partial<Record<'on' | 'off', Float32Array>> = {};
for (const side of ['on', 'off'] as const) {
  toggle(side === 'on');
  outputs[side] = (await step()).out; // compile this side's pipelines before timing
}
let maxDiff = 0;
for (let i = 0; i < outputs.on!.length; i++) maxDiff = Math.max(maxDiff, Math.abs(outputs.on![i]! - outputs.off![i]!));
for (let round = 0; round < rounds; round++) {
  for (const side of round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
    toggle(side === 'on');
    samples[side].push((await step()).ms);
  }
}
toggle(true);
const [on, off] = [median(samples.on), median(samples.off)];
console.log(
  `${values.model} inference ${size}px b${batch}, --switch ${values.switch}: on ${on.toFixed(0)} ms, off ${off.toFixed(0)} ms, ` +
    `speedup ${(off / on).toFixed(2)}x (medians of ${rounds} alternating rounds); outputs differ by at most ${maxDiff.toExponential(1)}`,
);
process.exit(0);
