/**
 * Learning-rate schedules with the curves of torch.optim.lr_scheduler (PyTorch 1.13), written as pure
 * functions of the step so they are testable and resumable: a schedule maps (step, the group's base lr)
 * to that step's lr, and `Scheduler` only counts steps and writes the values into parameter groups.
 *
 * Step t is the t-th optimizer step, counted from 0: PyTorch's `last_epoch` after t calls of
 * `scheduler.step()` (the name says epoch, but it counts whatever you step per, usually batches).
 * PyTorch computes StepLR, CosineAnnealingLR and LinearLR by chaining (each lr from the previous one);
 * we use their closed forms, which agree to within ~1e-14 relative (tools/fixtures/schedules.py).
 */
import { AutogradError } from '../errors.js';

/** lr at step t for a group whose base (initial) lr is `baseLr`. */
export interface Schedule {
  (step: number, baseLr: number): number;
  /** OneCycleLR's momentum cycling: the momentum (SGD) or betas[0] (Adam) at step t. */
  readonly momentum?: (step: number) => number;
}

/** StepLR: multiply the lr by `gamma` every `stepSize` steps. */
export function stepLr(options: { stepSize: number; gamma?: number }): Schedule {
  const { stepSize, gamma = 0.1 } = options;
  expectPositiveInteger('stepLr', 'stepSize', stepSize);
  return (step, baseLr) => {
    expectStep('stepLr', step);
    return baseLr * gamma ** Math.floor(step / stepSize);
  };
}

/**
 * CosineAnnealingLR's closed form: half a cosine from the base lr down to `etaMin` over `tMax` steps.
 * Past tMax it keeps following the cosine back up, as PyTorch does (no restarts: that is SGDR).
 */
export function cosineAnnealing(options: { tMax: number; etaMin?: number }): Schedule {
  const { tMax, etaMin = 0 } = options;
  expectPositiveInteger('cosineAnnealing', 'tMax', tMax);
  return (step, baseLr) => {
    expectStep('cosineAnnealing', step);
    return etaMin + ((baseLr - etaMin) * (1 + Math.cos((Math.PI * step) / tMax))) / 2;
  };
}

export interface WarmupOptions {
  warmupSteps: number;
  /** Factor of the base lr at step 0, in (0, 1]; the factor rises linearly to 1 at step warmupSteps. */
  startFactor: number;
}

/** LinearLR(startFactor, endFactor = 1, totalIters = warmupSteps): ramps up, then holds the base lr. */
export function linearWarmup(options: WarmupOptions): Schedule {
  const { warmupSteps, startFactor } = options;
  expectWarmup('linearWarmup', options);
  return (step, baseLr) => {
    expectStep('linearWarmup', step);
    return baseLr * (startFactor + ((1 - startFactor) * Math.min(step, warmupSteps)) / warmupSteps);
  };
}

/**
 * SequentialLR([LinearLR(startFactor, totalIters = warmupSteps), schedule], milestones = [warmupSteps]):
 * linear warmup for `warmupSteps` steps, then `schedule` restarted from its own step 0 (so a cosine's tMax
 * counts the steps after warmup, like timm's `warmup_prefix = True`). A momentum-cycling schedule holds
 * its step-0 momentum during the warmup.
 */
export function withWarmup(schedule: Schedule, options: WarmupOptions): Schedule {
  const { warmupSteps } = options;
  const warmup = linearWarmup(options);
  const lr = (step: number, baseLr: number): number =>
    step < warmupSteps ? warmup(step, baseLr) : schedule(step - warmupSteps, baseLr);
  const cycle = schedule.momentum;
  if (!cycle) return lr;
  return Object.assign(lr, { momentum: (step: number) => cycle(Math.max(0, step - warmupSteps)) });
}

export interface OneCycleOptions {
  /** Peak lr (absolute: the group's base lr is ignored, as in PyTorch). Different per group: one schedule per group. */
  maxLr: number;
  totalSteps: number;
  /** Fraction of the steps spent rising to maxLr. */
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  /** Starting lr = maxLr / divFactor. */
  divFactor?: number;
  /** Final lr = starting lr / finalDivFactor. */
  finalDivFactor?: number;
  /** fast.ai's variant: rise, fall back to the starting lr, then annihilate to the final lr. */
  threePhase?: boolean;
  /**
   * Cycle momentum inversely to the lr, between maxMomentum and baseMomentum (PyTorch's default: on).
   * The Scheduler then writes each group's `momentum`, or `betas[0]` if it has `betas`.
   */
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
}

interface Phase {
  endStep: number;
  startLr: number;
  endLr: number;
  startMomentum: number;
  endMomentum: number;
}

/**
 * OneCycleLR's curve. Steps run 0..totalSteps; like PyTorch, step totalSteps (reached by the last
 * `scheduler.step()` of a run, never used by an optimizer step) extrapolates the last phase, and later
 * steps throw.
 */
export function oneCycle(options: OneCycleOptions): Schedule {
  const {
    maxLr, totalSteps, pctStart = 0.3, annealStrategy = 'cos', divFactor = 25, finalDivFactor = 1e4,
    threePhase = false, cycleMomentum = true, baseMomentum = 0.85, maxMomentum = 0.95,
  } = options;
  expectPositiveInteger('oneCycle', 'totalSteps', totalSteps);
  if (!(pctStart >= 0 && pctStart <= 1)) throw new AutogradError(`oneCycle: pctStart must be in [0, 1], got ${pctStart}`);
  if (annealStrategy !== 'cos' && annealStrategy !== 'linear') {
    throw new AutogradError(`oneCycle: annealStrategy must be 'cos' or 'linear', got '${String(annealStrategy)}'`);
  }
  const initialLr = maxLr / divFactor;
  const minLr = initialLr / finalDivFactor;
  // The phase boundaries are PyTorch's expressions verbatim (fractional steps included), so the curves match bit for bit.
  const phases: Phase[] = threePhase
    ? [
        { endStep: pctStart * totalSteps - 1, startLr: initialLr, endLr: maxLr, startMomentum: maxMomentum, endMomentum: baseMomentum },
        { endStep: 2 * pctStart * totalSteps - 2, startLr: maxLr, endLr: initialLr, startMomentum: baseMomentum, endMomentum: maxMomentum },
        { endStep: totalSteps - 1, startLr: initialLr, endLr: minLr, startMomentum: maxMomentum, endMomentum: maxMomentum },
      ]
    : [
        { endStep: pctStart * totalSteps - 1, startLr: initialLr, endLr: maxLr, startMomentum: maxMomentum, endMomentum: baseMomentum },
        { endStep: totalSteps - 1, startLr: maxLr, endLr: minLr, startMomentum: baseMomentum, endMomentum: maxMomentum },
      ];
  const anneal = annealStrategy === 'cos' ? annealCos : annealLinear;

  const at = (step: number, pick: (phase: Phase, pct: number) => number): number => {
    expectStep('oneCycle', step);
    if (step > totalSteps) throw new AutogradError(`oneCycle: step ${step} is past totalSteps = ${totalSteps}`);
    let startStep = 0;
    for (let i = 0; i < phases.length; i++) {
      const phase = phases[i]!;
      if (step <= phase.endStep || i === phases.length - 1) {
        return pick(phase, (step - startStep) / (phase.endStep - startStep));
      }
      startStep = phase.endStep;
    }
    throw new Error('unreachable: the last phase always matches');
  };
  const lr = (step: number): number => at(step, (p, pct) => anneal(p.startLr, p.endLr, pct));
  if (!cycleMomentum) return lr;
  return Object.assign(lr, { momentum: (step: number) => at(step, (p, pct) => anneal(p.startMomentum, p.endMomentum, pct)) });
}

function annealCos(start: number, end: number, pct: number): number {
  return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
}

function annealLinear(start: number, end: number, pct: number): number {
  return (end - start) * pct + start;
}

/** Any parameter group with a writable lr; `momentum` or `betas` are written only by momentum-cycling schedules. */
export interface LrGroup {
  lr: number;
}

/** What resumes a Scheduler: PyTorch's `last_epoch` and `base_lrs`. */
export interface SchedulerState {
  lastEpoch: number;
  baseLrs: number[];
}

/**
 * Binds schedules to parameter groups. Like a PyTorch scheduler, construction applies step 0 (so the
 * first optimizer step already uses the scheduled lr), and `step()` goes after each optimizer step.
 * The base lrs are the groups' lrs at construction (PyTorch's `initial_lr`).
 */
export class Scheduler<G extends LrGroup = LrGroup> {
  readonly groups: readonly G[];
  private readonly schedules: readonly Schedule[];
  private baseLrs: number[];
  private epoch = 0;
  private lastLrs: number[] = [];
  private lastMomenta: (number | undefined)[] = [];

  constructor(groups: readonly G[], schedule: Schedule | readonly Schedule[]) {
    if (groups.length === 0) throw new AutogradError('Scheduler: no parameter groups');
    if (typeof schedule !== 'function' && schedule.length !== groups.length) {
      throw new AutogradError(`Scheduler: ${schedule.length} schedules for ${groups.length} parameter groups`);
    }
    this.groups = groups;
    this.schedules = typeof schedule === 'function' ? groups.map(() => schedule) : [...schedule];
    this.baseLrs = groups.map((g, i) => {
      if (!Number.isFinite(g.lr)) throw new AutogradError(`Scheduler: group ${i} has lr ${g.lr}`);
      if (this.schedules[i]!.momentum && !hasBetas(g) && typeof (g as { momentum?: unknown }).momentum !== 'number') {
        throw new AutogradError(`Scheduler: group ${i} has neither momentum nor betas to cycle (pass cycleMomentum: false)`);
      }
      return g.lr;
    });
    this.apply();
  }

  /** Number of step() calls so far: the index of the optimizer step the groups' lrs are set for. */
  get lastEpoch(): number {
    return this.epoch;
  }

  /** Call after each optimizer step: sets each group's lr (and cycled momentum) for the next one. */
  step(): void {
    this.epoch += 1;
    this.apply();
  }

  /** The lr each group uses at the current step (PyTorch's get_last_lr()). */
  lrs(): number[] {
    return [...this.lastLrs];
  }

  /** The cycled momentum per group at the current step; undefined for groups whose schedule does not cycle it. */
  momenta(): (number | undefined)[] {
    return [...this.lastMomenta];
  }

  stateDict(): SchedulerState {
    return { lastEpoch: this.epoch, baseLrs: [...this.baseLrs] };
  }

  /** Continues the curve from a saved step; rewrites the groups' lrs for it (whatever they held, e.g. a loaded optimizer's). */
  loadStateDict(state: SchedulerState): void {
    expectStep('Scheduler.loadStateDict', state.lastEpoch);
    if (state.baseLrs.length !== this.groups.length) {
      throw new AutogradError(`Scheduler.loadStateDict: ${state.baseLrs.length} base lrs for ${this.groups.length} parameter groups`);
    }
    this.epoch = state.lastEpoch;
    this.baseLrs = [...state.baseLrs];
    this.apply();
  }

  private apply(): void {
    this.lastLrs = this.groups.map((group, i) => (group.lr = this.schedules[i]!(this.epoch, this.baseLrs[i]!)));
    this.lastMomenta = this.groups.map((group, i) => {
      const cycle = this.schedules[i]!.momentum;
      if (!cycle) return undefined;
      const m = cycle(this.epoch);
      // Like PyTorch, betas (Adam) win over momentum; the betas tuple is replaced, not mutated, keeping beta2.
      const g: LrGroup = group;
      if (hasBetas(g)) g.betas = [m, ...g.betas.slice(1)];
      else (g as LrGroup & { momentum: number }).momentum = m;
      return m;
    });
  }
}

function hasBetas(group: LrGroup): group is LrGroup & { betas: readonly number[] } {
  return Array.isArray((group as { betas?: unknown }).betas);
}

function expectStep(where: string, step: number): void {
  if (!Number.isInteger(step) || step < 0) throw new AutogradError(`${where}: step must be an integer >= 0, got ${step}`);
}

function expectPositiveInteger(where: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) throw new AutogradError(`${where}: ${name} must be a positive integer, got ${value}`);
}

function expectWarmup(where: string, { warmupSteps, startFactor }: WarmupOptions): void {
  expectPositiveInteger(where, 'warmupSteps', warmupSteps);
  if (!(startFactor > 0 && startFactor <= 1)) throw new AutogradError(`${where}: startFactor must be in (0, 1], got ${startFactor}`);
}
