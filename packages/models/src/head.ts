/**
 * A new classification head for a backbone built with includeTop: false, and the composition of the
 * two into one model.
 *
 * graftHead(gpu, inFeatures, { hidden, activation, dropout, classes }) is a Sequential of, per
 * hidden width, [Dropout (when dropout > 0), Linear, ReLU | ReLU6], then [Dropout (when dropout > 0),
 * Linear(classes)]. `classes` n gives n-way logits (softmax cross-entropy); classes = 1 gives a
 * single logit (binary, with sigmoid BCE). Indices are Sequential's, so parameter names are e.g.
 * `1.weight` (Dropout at 0) or `0.weight` (no dropout).
 *
 * withHead(backbone, head) is one Module with two children, `backbone` and `head`: its parameter
 * names are `backbone.<backbone's names>` and `head.<head's names>` (e.g. `backbone.features.0.weight`,
 * `head.0.weight`), so a backbone checkpoint loads into `model.backbone` with the strict key loop and
 * freezing by name can use `backbone.*`.
 */
import type { Gpu } from '@graft/kernels';
import { AutogradError, Dropout, Linear, Module, ReLU, ReLU6, Sequential, type Layer, type Tensor } from '@graft/autograd';

export interface HeadOptions {
  /** Widths of hidden Linear layers, in order; default none (one Linear). */
  hidden?: readonly number[];
  /** After each hidden Linear; default 'relu'. */
  activation?: 'relu' | 'relu6';
  /** Dropout probability before each Linear; default 0 (no Dropout layers). */
  dropout?: number;
  /** Output width: n-way logits, or 1 for a single binary logit. */
  classes: number;
}

export function graftHead(gpu: Gpu, inFeatures: number, options: HeadOptions): Sequential {
  const { hidden = [], activation = 'relu', dropout = 0, classes } = options;
  if (!(Number.isInteger(classes) && classes >= 1)) throw new AutogradError(`graftHead: classes must be a positive integer, got ${classes}`);
  if (activation !== 'relu' && activation !== 'relu6') throw new AutogradError(`graftHead: activation must be 'relu' or 'relu6', got '${String(activation)}'`);
  if (!(dropout >= 0 && dropout < 1)) throw new AutogradError(`graftHead: dropout must be in [0, 1), got ${dropout}`);
  const layers: Layer[] = [];
  let width = inFeatures;
  for (const h of hidden) {
    if (!(Number.isInteger(h) && h >= 1)) throw new AutogradError(`graftHead: hidden widths must be positive integers, got [${hidden.join(', ')}]`);
    if (dropout > 0) layers.push(new Dropout(dropout));
    layers.push(new Linear(gpu, width, h), activation === 'relu' ? new ReLU() : new ReLU6());
    width = h;
  }
  if (dropout > 0) layers.push(new Dropout(dropout));
  layers.push(new Linear(gpu, width, classes));
  return new Sequential(...layers);
}

/** A backbone (includeTop: false) followed by a head; names `backbone.*` and `head.*`. */
export class WithHead extends Module implements Layer {
  constructor(
    public backbone: Layer,
    public head: Layer,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return this.head.forward(this.backbone.forward(x));
  }
}

export function withHead(backbone: Layer, head: Layer): WithHead {
  return new WithHead(backbone, head);
}
