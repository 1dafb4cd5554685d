import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AutogradError } from '../errors.js';
import type { Adam } from './adam.js';
import type { SGD } from './sgd.js';
import {
  cosineAnnealing, linearWarmup, oneCycle, Scheduler, stepLr, withWarmup, type OneCycleOptions, type Schedule,
} from './schedules.js';

/** One torch.optim.lr_scheduler run (tools/fixtures/schedules.py): lrs[t][g] is group g's lr at optimizer step t. */
interface ScheduleCase {
  name: string;
  attrs: Record<string, unknown>;
  baseLrs: number[];
  steps: number;
  lrs: number[][];
  momenta?: number[][];
}

const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/schedules.json', import.meta.url), 'utf8'),
) as { torch: string; cases: ScheduleCase[] };

/**
 * 1e-12 relative: our closed forms vs PyTorch's chained products (StepLR, CosineAnnealingLR, LinearLR)
 * differ by rounding only, measured at <= 5e-15 over 25 steps; OneCycleLR uses the same expressions and
 * matches exactly. An expected 0 must be hit exactly.
 */
function expectClose(actual: number, expected: number, what: string): void {
  if (!(Math.abs(actual - expected) <= 1e-12 * Math.abs(expected))) { // written so that NaN fails
    throw new Error(`${what}: got ${actual}, PyTorch ${expected} (relative error ${Math.abs(actual - expected) / Math.abs(expected)})`);
  }
}

/** The schedule(s) a fixture case describes, one per group where PyTorch took a per-group list. */
function schedulesFor(c: ScheduleCase): Schedule[] {
  const a = c.attrs as Record<string, number> & { annealStrategy: 'cos' | 'linear'; maxLr: number[]; threePhase?: boolean };
  const warmup = { warmupSteps: a.warmupSteps!, startFactor: a.startFactor! };
  const one = (s: Schedule): Schedule[] => c.baseLrs.map(() => s);
  switch (c.name) {
    case 'stepLr': return one(stepLr({ stepSize: a.stepSize!, gamma: a.gamma! }));
    case 'cosineAnnealing':
    case 'cosineAnnealingZeroMin': return one(cosineAnnealing({ tMax: a.tMax!, etaMin: a.etaMin! }));
    case 'linearWarmup': return one(linearWarmup(warmup));
    case 'warmupCosine': return one(withWarmup(cosineAnnealing({ tMax: a.tMax!, etaMin: a.etaMin! }), warmup));
    case 'warmupStepLr': return one(withWarmup(stepLr({ stepSize: a.stepSize!, gamma: a.gamma! }), warmup));
    default: {
      expect(c.name.startsWith('oneCycle')).toBe(true);
      const options: Omit<OneCycleOptions, 'maxLr'> = {
        totalSteps: a.totalSteps!, pctStart: a.pctStart!, divFactor: a.divFactor!, finalDivFactor: a.finalDivFactor!,
        annealStrategy: a.annealStrategy, threePhase: a.threePhase ?? false, cycleMomentum: a.baseMomentum !== undefined,
        ...(a.baseMomentum !== undefined ? { baseMomentum: a.baseMomentum, maxMomentum: a.maxMomentum! } : {}),
      };
      return a.maxLr.map((maxLr) => oneCycle({ ...options, maxLr }));
    }
  }
}

/** Drives a Scheduler like a training loop: read the lrs each optimizer step uses, then step(). */
function runScheduler(scheduler: Scheduler, steps: number): { lrs: number[][]; momenta: (number | undefined)[][] } {
  const lrs: number[][] = [];
  const momenta: (number | undefined)[][] = [];
  for (let t = 0; t < steps; t++) {
    lrs.push(scheduler.groups.map((g) => g.lr));
    expect(scheduler.lrs()).toEqual(lrs[t]);
    momenta.push(scheduler.momenta());
    if (t < steps - 1) scheduler.step();
  }
  return { lrs, momenta };
}

describe(`schedules vs torch.optim.lr_scheduler ${fixture.torch}`, () => {
  for (const c of fixture.cases) {
    it(`${c.name}: ${c.steps} steps, base lrs ${c.baseLrs.join(', ')}`, () => {
      const schedules = schedulesFor(c);
      // SGD-like groups; momentum is only written when the schedule cycles it.
      const groups = c.baseLrs.map((lr) => ({ lr, momentum: 0.9 }));
      const { lrs, momenta } = runScheduler(new Scheduler(groups, schedules), c.steps);
      for (let t = 0; t < c.steps; t++) {
        for (let g = 0; g < c.baseLrs.length; g++) {
          expectClose(lrs[t]![g]!, c.lrs[t]![g]!, `lr at step ${t}, group ${g}`);
          // The pure function gives the same value without a Scheduler.
          expect(schedules[g]!(t, c.baseLrs[g]!)).toBe(lrs[t]![g]);
          if (c.momenta) expectClose(momenta[t]![g]!, c.momenta[t]![g]!, `momentum at step ${t}, group ${g}`);
          else expect(momenta[t]![g]).toBeUndefined();
        }
      }
      if (c.momenta) expect(groups.map((g) => g.momentum)).toEqual(momenta[c.steps - 1]);
      else expect(groups.map((g) => g.momentum)).toEqual([0.9, 0.9]);
    });
  }
});

describe('schedules by hand', () => {
  it('stepLr multiplies by gamma every stepSize steps', () => {
    const s = stepLr({ stepSize: 2, gamma: 0.5 });
    expect([0, 1, 2, 3, 4, 5].map((t) => s(t, 0.8))).toEqual([0.8, 0.8, 0.4, 0.4, 0.2, 0.2]);
  });

  it('cosineAnnealing: base at 0, midpoint at tMax / 2, etaMin at tMax', () => {
    const s = cosineAnnealing({ tMax: 4, etaMin: 0.1 });
    expect(s(0, 0.5)).toBe(0.5);
    expectClose(s(2, 0.5), 0.3, 'midpoint');
    expectClose(s(4, 0.5), 0.1, 'end');
    expectClose(s(1, 0.5), 0.1 + 0.4 * (1 + Math.SQRT1_2) / 2, 'quarter');
  });

  it('linearWarmup ramps from startFactor * base to base, then holds', () => {
    const s = linearWarmup({ warmupSteps: 4, startFactor: 0.2 });
    expect([0, 1, 2, 3, 4, 9].map((t) => s(t, 1))).toEqual([0.2, 0.4, 0.6000000000000001, 0.8, 1, 1]);
  });

  it('withWarmup hands over to the schedule at warmupSteps, restarting its count', () => {
    const inner = cosineAnnealing({ tMax: 10 });
    const s = withWarmup(inner, { warmupSteps: 3, startFactor: 0.5 });
    expect(s(0, 2)).toBe(1);
    expectClose(s(2, 2), 2 * (0.5 + 0.5 * 2 / 3), 'last warmup step');
    for (const t of [3, 4, 8, 13]) expect(s(t, 2)).toBe(inner(t - 3, 2));
    expect(s.momentum).toBeUndefined();
  });

  it('oneCycle: maxLr / divFactor at 0, maxLr at the end of the rise, maxLr / divFactor / finalDivFactor at totalSteps - 1', () => {
    const s = oneCycle({ maxLr: 1, totalSteps: 11, pctStart: 0.5, divFactor: 10, finalDivFactor: 100, cycleMomentum: false });
    expectClose(s(0, 123), 0.1, 'start'); // the group's base lr is ignored; cos annealing rounds, as in PyTorch
    expectClose(s(3, 0), 0.1 + 0.9 * (1 - Math.cos(Math.PI * 3 / 4.5)) / 2, 'rising');
    expectClose(s(10, 0), 0.001, 'end');
    expect(() => s(12, 0)).toThrow(AutogradError);
    expect(s.momentum).toBeUndefined();
  });

  it('oneCycle cycles momentum inversely to the lr, writing betas[0] for Adam-like groups', () => {
    const schedule = oneCycle({ maxLr: 0.01, totalSteps: 10, annealStrategy: 'linear' });
    const groups = [{ lr: 1e-3, betas: [0.9, 0.999] as readonly [number, number] }];
    const scheduler = new Scheduler(groups, schedule);
    expect(groups[0]!.betas).toEqual([0.95, 0.999]);
    scheduler.step(); // the rise lasts 0.3 * 10 - 1 = 2 steps
    scheduler.step();
    expectClose(groups[0]!.lr, 0.01, 'peak lr');
    expectClose(groups[0]!.betas[0], 0.85, 'trough momentum');
    expect(scheduler.momenta()).toEqual([groups[0]!.betas[0]]);
  });
});

// Compile-time only: the optimizers' parameter groups are what a Scheduler drives (no GPU needed here).
const bindsToOptimizers = (sgd: SGD, adam: Adam): Scheduler[] => [
  new Scheduler(sgd.paramGroups, oneCycle({ maxLr: 0.1, totalSteps: 100 })),
  new Scheduler(adam.paramGroups, withWarmup(cosineAnnealing({ tMax: 90 }), { warmupSteps: 10, startFactor: 0.01 })),
];
void bindsToOptimizers;

describe('Scheduler', () => {
  it('applies step 0 on construction and binds one schedule per group with different base lrs', () => {
    const groups = [{ lr: 0.1 }, { lr: 0.01 }, { lr: 0.3 }];
    const scheduler = new Scheduler(groups, [stepLr({ stepSize: 1, gamma: 0.5 }), linearWarmup({ warmupSteps: 2, startFactor: 0.5 }), cosineAnnealing({ tMax: 2 })]);
    expect(scheduler.lrs()).toEqual([0.1, 0.005, 0.3]);
    scheduler.step();
    expect(scheduler.lastEpoch).toBe(1);
    expect(groups.map((g) => g.lr)).toEqual([0.05, 0.0075, cosineAnnealing({ tMax: 2 })(1, 0.3)]);
    scheduler.step();
    expect(scheduler.lrs()).toEqual([0.025, 0.01, 0]);
  });

  it('resumes from a state dict with the same sequence as uninterrupted stepping', () => {
    const makeSchedule = (): Schedule => withWarmup(cosineAnnealing({ tMax: 12, etaMin: 1e-4 }), { warmupSteps: 3, startFactor: 0.1 });
    const initialGroups = (): { lr: number }[] => [{ lr: 0.1 }, { lr: 0.02 }];
    const steps = 16;
    const uninterrupted = runScheduler(new Scheduler(initialGroups(), makeSchedule()), steps).lrs;

    for (const stopAt of [1, 3, 7]) {
      const first = new Scheduler(initialGroups(), makeSchedule());
      const before = runScheduler(first, stopAt).lrs;
      first.step(); // the step() that follows optimizer step stopAt - 1, then the checkpoint is saved
      const saved = JSON.parse(JSON.stringify(first.stateDict())) as ReturnType<Scheduler['stateDict']>;
      expect(saved.lastEpoch).toBe(stopAt);

      // Resumed groups may hold the config's lrs or a loaded optimizer's scheduled lrs: loadStateDict overrides both.
      for (const groups of [initialGroups(), first.groups.map((g) => ({ lr: g.lr }))]) {
        const resumed = new Scheduler(groups, makeSchedule());
        resumed.loadStateDict(saved);
        const after = runScheduler(resumed, steps - stopAt).lrs;
        expect([...before, ...after]).toEqual(uninterrupted);
      }
    }
  });

  it('rejects mismatched schedules, groups without momentum to cycle, and bad state', () => {
    expect(() => new Scheduler([{ lr: 0.1 }], [stepLr({ stepSize: 1 }), stepLr({ stepSize: 1 })])).toThrow(/2 schedules for 1/);
    expect(() => new Scheduler([{ lr: 0.1 }], oneCycle({ maxLr: 1, totalSteps: 5 }))).toThrow(/cycleMomentum: false/);
    expectClose(new Scheduler([{ lr: 0.1 }], oneCycle({ maxLr: 1, totalSteps: 5, cycleMomentum: false })).lrs()[0]!, 0.04, 'start');
    const scheduler = new Scheduler([{ lr: 0.1 }], stepLr({ stepSize: 1 }));
    expect(() => scheduler.loadStateDict({ lastEpoch: 2, baseLrs: [0.1, 0.2] })).toThrow(/2 base lrs for 1/);
    expect(() => scheduler.loadStateDict({ lastEpoch: -1, baseLrs: [0.1] })).toThrow(AutogradError);
    expect(() => stepLr({ stepSize: 0 })).toThrow(/stepSize/);
    expect(() => linearWarmup({ warmupSteps: 3, startFactor: 0 })).toThrow(/startFactor/);
    expect(() => cosineAnnealing({ tMax: 2 })(1.5, 0.1)).toThrow(/integer/);
  });
});
