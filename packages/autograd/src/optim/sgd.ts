/** torch.optim.SGD over parameter groups: momentum, dampening, nesterov, weight decay; one fused dispatch per step. */
import { sgdStep } from '@graft/kernels';
import { AutogradError } from '../errors.js';
import type { NamedParameters } from './paramGroups.js';
import { Optimizer, type GroupingOptions } from './optimizer.js';

export interface SgdHyperparameters {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

export type SgdOptions = Partial<SgdHyperparameters> & GroupingOptions;

export class SGD extends Optimizer<SgdHyperparameters> {
  /** `lr` has no default (as in PyTorch): give it here or in every group. */
  constructor(params: NamedParameters, options: SgdOptions = {}) {
    const { groups, decayOneDimensional, lr = Number.NaN, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = options;
    super(params, { lr, momentum, dampening, weightDecay, nesterov }, { groups, decayOneDimensional }, ['momentumBuffer']);
    for (const group of this.paramGroups) {
      if (Number.isNaN(group.lr)) throw new AutogradError(`SGD: group ${group.name} has no lr (SGD has no default learning rate)`);
      if (group.nesterov && (group.momentum <= 0 || group.dampening !== 0)) {
        throw new AutogradError(`SGD: group ${group.name}: nesterov needs momentum > 0 and dampening = 0 (got momentum ${group.momentum}, dampening ${group.dampening})`);
      }
    }
  }

  protected launch(active: readonly number[]): void {
    const hasBuffer = this.hasState.momentumBuffer!;
    const momentum = active.some((i) => this.slots[i]!.group.momentum !== 0) ? this.state('momentumBuffer') : null;
    sgdStep(
      this.gpu,
      active.map((i) => {
        const { group, decays } = this.slots[i]!;
        const withMomentum = group.momentum !== 0;
        // The kernel starts the buffer (buf = d_p) on its "step 1": PyTorch's `buffer is None`.
        const step = withMomentum && !hasBuffer[i] ? 1 : 2;
        if (withMomentum) hasBuffer[i] = true;
        return {
          param: this.paramView(i),
          grad: this.gradView(i),
          momentumBuffer: withMomentum ? momentum!.views[i] : undefined,
          step,
          options: { lr: group.lr, momentum: group.momentum, dampening: group.dampening, weightDecay: decays ? group.weightDecay : 0, nesterov: group.nesterov },
        };
      }),
    );
  }
}
