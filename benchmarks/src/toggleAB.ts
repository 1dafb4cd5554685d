/**
 * A/B of Dawn toggles on graft's kernels: two devices in one process, one with the toggles, timed in
 * alternating rounds so that load from other processes falls on both sides alike. Reports the
 * median of each side; changes no default.
 *
 *   tsx --conditions=source src/toggleAB.ts [--toggles disable_robustness] [--filter <regex>] [--rounds 5]
 */
import { parseArgs } from 'node:util';
import { createGpu } from '@graft/kernels';
import { loadCases } from './run.js';
import { GraftTimer, summarize, type RepetitionPlan } from './kernels/timing.js';

const { values } = parseArgs({
  options: {
    toggles: { type: 'string', default: 'disable_robustness' },
    filter: { type: 'string', default: '^matmul matmul 1024x1024x1024 forward$' },
    rounds: { type: 'string', default: '5' },
  },
});
const toggles = values.toggles.split(',').filter(Boolean);
const filter = new RegExp(values.filter, 'i');
const rounds = Number(values.rounds);
const plan: RepetitionPlan = { warmup: 1, reps: 3, minReps: 3, budgetMs: 0 };

const sides = [
  { name: 'default', gpu: await createGpu() },
  { name: toggles.join(','), gpu: await createGpu({ dawnToggles: toggles }) },
];
const timers = sides.map((s) => new GraftTimer(s.gpu));
for (const { benchCase } of await loadCases()) {
  if (!benchCase) continue;
  if (!filter.test(`${benchCase.kernel} ${benchCase.label} ${benchCase.direction}`)) continue;
  const runs = sides.map((s) => benchCase.graft(s.gpu));
  const samples: number[][] = sides.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [0, 1] : [1, 0]; // neither side always runs first
    for (const i of order) samples[i]!.push(...(await timers[i]!.time(runs[i]!, plan)).samplesMs);
  }
  const medians = samples.map((s) => summarize(timers[0]!.method, s).medianMs);
  console.log(
    `${benchCase.label} (${benchCase.direction}): ` +
      sides.map((s, i) => `${s.name} ${medians[i]!.toFixed(2)} ms`).join(', ') +
      `; ${sides[1]!.name} / default time = ${(medians[1]! / medians[0]!).toFixed(3)} (${samples[0]!.length} samples each)`,
  );
  runs.forEach((r) => r.dispose());
}
for (const s of sides) s.gpu.destroy();
