/**
 * A pretrained backbone with a new head, split where training needs it: the frozen prefix (run
 * without a graph, in inference mode, and cacheable when its inputs repeat) and the trainable suffix
 * (the last N units of the backbone, the pooling, and the head).
 *
 * Parameter names are `backbone.*` and `head.*` (withHead), so checkpoints and exports read like a
 * PyTorch state dict of the same composition.
 */
import { backward, BatchNorm2d, freeze, noGrad, softmaxCrossEntropy, unfreeze, type BatchNormMode, type Optimizer, type Sequential, type Tensor } from '@graft/autograd';
import { withHead, type WithHead } from '@graft/models';
import type { LoadedBackbone } from './backbones.js';
import type { GroupContext } from './groups.js';
import { backboneStages, runStages, trainableUnits, type Stage } from './stages.js';

export class GraftModel {
  readonly model: WithHead;
  readonly stages: Stage[];
  readonly units: Stage[];
  /** Index into `stages` of the first stage that trains (stages.length: only the head trains). */
  split: number;

  constructor(
    readonly loaded: LoadedBackbone,
    readonly head: Sequential,
  ) {
    this.model = withHead(loaded.backbone, head);
    this.stages = backboneStages(loaded.backbone);
    this.units = trainableUnits(this.stages);
    this.split = this.stages.length;
    this.setTrainable(0, 'frozen');
  }

  /**
   * Freezes the whole backbone, then unfreezes its last `n` units with batch norms in `bnMode`
   * (frozen units' batch norms always use their running statistics, as Keras' trainable = False does).
   */
  setTrainable(n: number, bnMode: BatchNormMode): void {
    if (!Number.isInteger(n) || n < 0 || n > this.units.length) {
      throw new RangeError(`--unfreeze-last must be an integer in [0, ${this.units.length}] for ${this.loaded.model} (its units: ${this.units.map((u) => u.name).join(', ')}), got ${n}`);
    }
    freeze(this.loaded.backbone);
    const unfrozen = this.units.slice(this.units.length - n);
    for (const unit of unfrozen) for (const m of unit.modules) unfreeze(m, { bnMode });
    this.split = n === 0 ? this.stages.length : this.stages.indexOf(unfrozen[0]!);
  }

  /** What `--lr` groups select from: each unit's parameter names, and the names that train now. */
  groupContext(): GroupContext {
    const named = [...this.model.namedParameters()];
    const unitParams = new Map(this.units.map((u) => [u.name, named.filter(([, p]) => u.modules.some((m) => m.parameters().includes(p))).map(([n]) => n)]));
    return { unitParams, trainable: named.filter(([, p]) => p.requiresGrad).map(([n]) => n) };
  }

  /** Names of the units that train (for the parameter-group table and reports). */
  trainableUnitNames(): string[] {
    return this.stages.slice(this.split).filter((s) => this.units.includes(s)).map((s) => s.name);
  }

  /** The frozen prefix's output for preprocessed inputs [n, h, w, 3]: a plain leaf, no graph kept. */
  prefix(x: Tensor): Tensor {
    return noGrad(() => runStages(this.stages, x, 0, this.split));
  }

  /** Trainable suffix + head on the prefix's output: logits, with a graph when grad is on. */
  suffix(a: Tensor): Tensor {
    return this.head.forward(runStages(this.stages, a, this.split));
  }

  /**
   * One optimisation step on preprocessed inputs: the prefix without a graph, suffix + head with one,
   * softmax cross-entropy, backward, the optimizer's step. Returns the loss (the caller reads and
   * releases it). The benchmarks and memory tests step this way; `trainEpoch` steps on cached or
   * streamed prefix outputs instead.
   */
  trainStep(x: Tensor, labels: Uint32Array, optimizer: Optimizer<object>): Tensor {
    const a = this.prefix(x);
    const loss = softmaxCrossEntropy(this.suffix(a), labels);
    backward(loss);
    optimizer.step();
    optimizer.zeroGrad();
    if (a !== x) a.release(); // an empty prefix (everything trains) hands the input through
    return loss;
  }

  /** Training mode for the suffix and head (dropout on; batch norms follow their explicit bnMode). */
  train(): void {
    this.model.train();
  }

  eval(): void {
    this.model.eval();
  }

  /** The batch norms of the trainable units and their modes (for the dry-run table). */
  batchNormModes(): Map<string, BatchNormMode | null> {
    const modes = new Map<string, BatchNormMode | null>();
    for (const [name, m] of this.model.namedModules()) if (m instanceof BatchNorm2d) modes.set(name, m.bnMode);
    return modes;
  }

  release(): void {
    this.model.release();
  }
}
