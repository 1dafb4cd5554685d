/**
 * Gradient checks of composite blocks written as plain functions of the primitives, as the models
 * will compose them (fused conv/BN activations, fused residual add + relu), with torchvision's
 * parameter names. BatchNorm runs in 'affine' mode: fixed running statistics (inference-mode
 * normalization) with gamma and beta trained, so every parameter of each block is checked.
 *
 * Finite differences need every relu/relu6 pre-activation away from its kinks. Random data alone
 * would put a few of hundreds of them within a step of 0, so each BN's beta is set per channel to
 * values far from the kinks (e.g. -4 or +4 around relu, -4, 3 or 10 around relu6) plus a little
 * jitter, with gamma small; the check below asserts the resulting margin rather than hoping for it,
 * and that every piece of each activation (dead, linear, clamped) is exercised.
 */
import { createGpu, type Activation, type Gpu } from '@graft/kernels';
import { randomArray } from '@graft/kernels/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { tensor } from './create.js';
import { DEFAULT_TOLERANCE, gradcheck, type GradcheckInput } from './gradcheck.js';
import { conv2dOp, depthwiseConv2dOp } from './ops/conv.js';
import { activate, add, addActivate } from './ops/elementwise.js';
import { batchNorm } from './ops/norm.js';
import { noGrad } from './tape.js';
import type { Tensor } from './tensor.js';
import { expectAwayFromKinks } from './testing.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await createGpu();
});

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

// --- How a block applies an activation -------------------------------------------------------------

/** While set, activations run unfused and their inputs are kept here (retained) for the kink check. */
let inspected: { pre: Tensor; kind: Activation }[] | null = null;

/** `op` with the activation fused into it; while inspecting, op without it, then the activation. */
function withActivation(kind: Activation, op: (activation: Activation) => Tensor): Tensor {
  if (!inspected) return op(kind);
  const pre = op('none').retain();
  inspected.push({ pre, kind });
  return activate(pre, kind);
}

// --- Parameters ------------------------------------------------------------------------------------

type P = Record<string, Tensor>;

/** A block's parameters in a fixed order (the gradcheck inputs), plus fixed BN running statistics. */
class BlockParams {
  readonly inputs: GradcheckInput[] = [];
  private readonly stats = new Map<string, { runningMean: Tensor; runningVar: Tensor }>();
  private seed = 1;

  private add(name: string, shape: number[], data: Float32Array): void {
    this.inputs.push({ name, shape, data });
  }

  input(shape: number[]): this {
    this.add('x', shape, randomArray(this.seed++, sizeOf(shape)));
    return this;
  }

  /** HWIO (or [k_h, k_w, c] for depthwise) with variance 1 / fan_in, so outputs keep their inputs' scale. */
  conv(name: string, shape: number[]): this {
    const fanIn = shape.length === 4 ? shape[0]! * shape[1]! * shape[2]! : shape[0]! * shape[1]!;
    const a = Math.sqrt(3 / fanIn);
    this.add(`${name}.weight`, shape, randomArray(this.seed++, sizeOf(shape), -a, a));
    return this;
  }

  /** gamma in [0.15, 0.3]; beta cycles through `betas` per channel (±0.2 jitter); fixed running stats. */
  bn(name: string, c: number, betas: readonly number[]): this {
    this.add(`${name}.weight`, [c], randomArray(this.seed++, c, 0.15, 0.3));
    const jitter = randomArray(this.seed++, c, -0.2, 0.2);
    this.add(`${name}.bias`, [c], Float32Array.from(jitter, (j, i) => betas[i % betas.length]! + j));
    this.stats.set(name, {
      runningMean: tensor(gpu, randomArray(this.seed++, c, -0.5, 0.5), [c]),
      runningVar: tensor(gpu, randomArray(this.seed++, c, 0.5, 2), [c]),
    });
    return this;
  }

  /** The gradcheck's leaves by name. */
  bind(xs: readonly Tensor[]): P {
    return Object.fromEntries(this.inputs.map((input, i) => [input.name, xs[i]!]));
  }

  batchNorm(p: P, name: string, x: Tensor, activation: Activation = 'none'): Tensor {
    return batchNorm(x, { gamma: p[`${name}.weight`]!, beta: p[`${name}.bias`]!, ...this.stats.get(name)! }, { mode: 'affine', activation });
  }

  release(): void {
    for (const { runningMean, runningVar } of this.stats.values()) {
      runningMean.release();
      runningVar.release();
    }
  }
}

// Betas far from the kinks; see the header.
const reluBetas = [-4, 4, 4];
const relu6Betas = [-4, 3, 10];

// --- The blocks --------------------------------------------------------------------------------------

/** ResNet BasicBlock: conv3x3 -> bn -> relu -> conv3x3 -> bn -> + x -> relu. */
function basicBlock(params: BlockParams, p: P): Tensor {
  const x = p['x']!;
  const h = withActivation('relu', (act) => params.batchNorm(p, 'bn1', conv2dOp(x, p['conv1.weight']!, { padding: 1 }), act));
  const branch = params.batchNorm(p, 'bn2', conv2dOp(h, p['conv2.weight']!, { padding: 1 }));
  return withActivation('relu', (act) => addActivate(branch, x, act));
}

/** ResNet Bottleneck (v1.5: stride on the 3x3): 1x1 -> 3x3 stride 2 -> 1x1, with a 1x1 stride-2 projection shortcut. */
function bottleneck(params: BlockParams, p: P): Tensor {
  const x = p['x']!;
  const h1 = withActivation('relu', (act) => params.batchNorm(p, 'bn1', conv2dOp(x, p['conv1.weight']!), act));
  const h2 = withActivation('relu', (act) => params.batchNorm(p, 'bn2', conv2dOp(h1, p['conv2.weight']!, { stride: 2, padding: 1 }), act));
  const branch = params.batchNorm(p, 'bn3', conv2dOp(h2, p['conv3.weight']!));
  const shortcut = params.batchNorm(p, 'downsample.1', conv2dOp(x, p['downsample.0.weight']!, { stride: 2 }));
  return withActivation('relu', (act) => addActivate(branch, shortcut, act));
}

/** MobileNetV2 inverted residual (stride 1, c_in = c_out): 1x1 expand relu6 -> depthwise 3x3 relu6 -> 1x1 project, + x. */
function invertedResidual(params: BlockParams, p: P): Tensor {
  const x = p['x']!;
  const expanded = withActivation('relu6', (act) => params.batchNorm(p, 'conv.0.1', conv2dOp(x, p['conv.0.0.weight']!), act));
  const filtered = withActivation('relu6', (act) =>
    params.batchNorm(p, 'conv.1.1', depthwiseConv2dOp(expanded, p['conv.1.0.weight']!, { padding: 1 }), act),
  );
  const projected = params.batchNorm(p, 'conv.3', conv2dOp(filtered, p['conv.2.weight']!));
  return add(x, projected);
}

// --- The check ---------------------------------------------------------------------------------------

/**
 * Margin from the kinks: the blocks are piecewise linear, so a difference step (1e-2) moves a
 * pre-activation by 1e-2 x its derivative w.r.t. the probed element, which stays well below 5 here.
 */
const kinkMargin = 0.05;

async function expectBlockGradientsMatch(block: (params: BlockParams, p: P) => Tensor, params: BlockParams, outShape: number[]) {
  // The kink check: every pre-activation of the unperturbed forward, with both (or all three) pieces used.
  inspected = [];
  const leaves = params.inputs.map((input) => tensor(gpu, input.data, input.shape));
  const y = noGrad(() => block(params, params.bind(leaves)));
  expect(y.shape).toEqual(outShape);
  for (const [i, { pre, kind }] of inspected.entries()) {
    const values = await pre.read();
    const kinks = kind === 'relu6' ? [0, 6] : [0];
    const above = expectAwayFromKinks(values, kinks, kinkMargin, `activation ${i} (${kind})`);
    const perPiece = [values.length - above[0]!, ...above.map((count, k) => count - (above[k + 1] ?? 0))];
    perPiece.forEach((count, piece) => expect(count, `activation ${i} (${kind}): values in piece ${piece} of [${kinks}]`).toBeGreaterThan(0));
    pre.release();
  }
  inspected = null;
  y.release();
  for (const leaf of leaves) leaf.release();

  const results = await gradcheck(gpu, (...xs) => block(params, params.bind(xs)), params.inputs, randomArray(7, sizeOf(outShape)));
  expect(results.map((r) => r.name)).toEqual(params.inputs.map((input) => input.name));
  for (const r of results) {
    expect(r.maxAbs, `${r.name}: some gradient is nonzero`).toBeGreaterThan(0);
    expect(r.maxAbsError, `${r.name}: max |analytic - numeric| ${r.maxAbsError} vs max |grad| ${r.maxAbs}`).toBeLessThanOrEqual(DEFAULT_TOLERANCE * Math.max(1, r.maxAbs));
  }
  params.release();
}

describe('composite blocks: every parameter and the input vs finite differences', () => {
  it('ResNet BasicBlock (BN in affine mode, fused residual relu), x [1, 5, 5, 4]', async () => {
    const params = new BlockParams()
      .input([1, 5, 5, 4])
      .conv('conv1', [3, 3, 4, 4])
      .bn('bn1', 4, reluBetas)
      .conv('conv2', [3, 3, 4, 4])
      .bn('bn2', 4, reluBetas);
    await expectBlockGradientsMatch(basicBlock, params, [1, 5, 5, 4]);
  });

  it('ResNet Bottleneck with a stride-2 projection shortcut, x [1, 5, 5, 4], width 3, out 8', async () => {
    const params = new BlockParams()
      .input([1, 5, 5, 4])
      .conv('conv1', [1, 1, 4, 3])
      .bn('bn1', 3, reluBetas)
      .conv('conv2', [3, 3, 3, 3])
      .bn('bn2', 3, reluBetas)
      .conv('conv3', [1, 1, 3, 8])
      .bn('bn3', 8, reluBetas)
      .conv('downsample.0', [1, 1, 4, 8])
      .bn('downsample.1', 8, [0]);
    await expectBlockGradientsMatch(bottleneck, params, [1, 3, 3, 8]);
  });

  it('MobileNetV2 inverted residual, expansion 6, x [1, 5, 5, 3] (18 hidden channels)', async () => {
    const params = new BlockParams()
      .input([1, 5, 5, 3])
      .conv('conv.0.0', [1, 1, 3, 18])
      .bn('conv.0.1', 18, relu6Betas)
      .conv('conv.1.0', [3, 3, 18])
      .bn('conv.1.1', 18, relu6Betas)
      .conv('conv.2', [1, 1, 18, 3])
      .bn('conv.3', 3, [0]);
    await expectBlockGradientsMatch(invertedResidual, params, [1, 5, 5, 3]);
  });
});
