/** torch.optim.Adam and AdamW over parameter groups (amsgrad off); one fused dispatch per step. */
import { adamStep } from '@graft/kernels';
import type { NamedParameters } from './paramGroups.js';
import { Optimizer, type GroupingOptions } from './optimizer.js';

export interface AdamHyperparameters {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
}

export type AdamOptions = Partial<AdamHyperparameters> & GroupingOptions;

export class Adam extends Optimizer<AdamHyperparameters> {
  /** Adam adds weightDecay * p to the gradient (L2); AdamW decays the parameter directly. */
  protected readonly decoupled: boolean;

  constructor(params: NamedParameters, options: AdamOptions = {}, decoupled = false) {
    const { groups, decayOneDimensional, lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = decoupled ? 1e-2 : 0 } = options;
    super(params, { lr, betas, eps, weightDecay }, { groups, decayOneDimensional }, ['expAvg', 'expAvgSq']);
    this.decoupled = decoupled;
  }

  protected launch(active: readonly number[]): void {
    const expAvg = this.state('expAvg');
    const expAvgSq = this.state('expAvgSq');
    adamStep(
      this.gpu,
      active.map((i) => {
        const { group, decays } = this.slots[i]!;
        this.hasState.expAvg![i] = true;
        this.hasState.expAvgSq![i] = true;
        return {
          param: this.paramView(i),
          grad: this.gradView(i),
          expAvg: expAvg.views[i]!,
          expAvgSq: expAvgSq.views[i]!,
          step: this.steps[i]!,
          options: { lr: group.lr, betas: group.betas, eps: group.eps, weightDecay: decays ? group.weightDecay : 0, decoupledWeightDecay: this.decoupled },
        };
      }),
    );
  }
}

/** AdamW (Loshchilov & Hutter): weight decay 1e-2 by default, applied as p *= 1 - lr * weightDecay. */
export class AdamW extends Adam {
  constructor(params: NamedParameters, options: AdamOptions = {}) {
    super(params, options, true);
  }
}
