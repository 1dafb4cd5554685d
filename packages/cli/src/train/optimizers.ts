/** `--optimizer` + parameter groups -> an optimizer, and `--schedule` -> a per-step scheduler. */
import { Adam, AdamW, cosineAnnealing, SGD, Scheduler, type Module, type Optimizer, type ParamGroupSpec } from '@graft/autograd';
import type { OptimizerName, ScheduleName } from './config.js';

export function makeOptimizer(name: OptimizerName, model: Module, groups: ParamGroupSpec[], momentum: number): Optimizer<object> {
  switch (name) {
    case 'adam':
      return new Adam(model, { groups });
    case 'adamw':
      return new AdamW(model, { groups });
    case 'sgd':
      return new SGD(model, { groups, momentum });
    default:
      throw new Error(`unknown --optimizer '${String(name)}' (expected adam, adamw or sgd)`);
  }
}

/** A scheduler stepping once per batch over `steps` steps, or none for a constant rate. */
export function makeScheduler(name: ScheduleName, optimizer: Optimizer<object>, steps: number): Scheduler | undefined {
  if (name === 'constant') return undefined;
  if (name === 'cosine') return new Scheduler(optimizer.paramGroups as unknown as { lr: number }[], cosineAnnealing({ tMax: Math.max(1, steps) }));
  throw new Error(`unknown --schedule '${String(name)}' (expected constant or cosine)`);
}

/** Each group's current learning rate, by group name (for metrics records). */
export function currentLrs(optimizer: Optimizer<object>): Record<string, number> {
  return Object.fromEntries(optimizer.paramGroups.map((g) => [g.name, (g as unknown as { lr: number }).lr]));
}
