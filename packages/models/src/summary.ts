/**
 * A Keras-like model summary: one row per module (depth first, PyTorch's dotted path), with its
 * type, output shape, own parameter count and whether those parameters train.
 *
 * Output shapes come from one forward in noGrad (and eval mode, so batch-norm statistics and dropout
 * seeds are untouched; each module's training flag is restored afterwards) on a zeros input of
 * `inputShape`, with every module's forward wrapped to note the shape it returns. A module that the
 * forward never calls has outputShape null; one called twice keeps its last shape.
 *
 * Counting follows Keras: a row counts the module's own tensors (not its children's, so totals add
 * up); trainable = parameters with requiresGrad; non-trainable = frozen parameters plus buffers,
 * as Keras counts BatchNormalization's moving mean and variance as non-trainable parameters. The
 * one exception is `num_batches_tracked`, a step counter PyTorch keeps and Keras has no equivalent
 * of: it is left out of every count.
 */
import { AutogradError, BatchNorm2d, fusion, Module, noGrad, tensor, type Layer, type Tensor } from '@graft/autograd';
import type { Shape } from '@graft/kernels';

export interface SummaryRow {
  /** Dotted path ('' is the model itself). */
  path: string;
  /** The module's class name. */
  type: string;
  /** Shape of the last output of the module's forward; null when the forward never ran it. */
  outputShape: Shape | null;
  /** Own parameters and counted buffers (elements). */
  params: number;
  trainableParams: number;
  nonTrainableParams: number;
  /** By own parameters (buffers do not count): 'trainable' (all train), 'frozen' (none), 'mixed', or '' (no parameters or buffers). */
  status: 'trainable' | 'frozen' | 'mixed' | '';
}

export interface Summary {
  rows: SummaryRow[];
  totalParams: number;
  trainableParams: number;
  nonTrainableParams: number;
}

const uncounted = new Set(['num_batches_tracked']);
const own = (name: string) => !name.includes('.');

export function summary(model: Layer, inputShape: Shape): Summary {
  const modules = [...model.namedModules()];
  const first = [...model.namedParameters(), ...model.namedBuffers()][0];
  if (!first) throw new AutogradError('summary: the model has no parameters or buffers to take a GPU from');
  const gpu = first[1].gpu;

  const shapes = new Map<Module, Shape>();
  const restore: (() => void)[] = [];
  for (const [, m] of modules) {
    const target = m as unknown as Record<string, unknown>;
    const layer = m as unknown as { forward?: (x: Tensor) => Tensor };
    if (typeof layer.forward !== 'function') continue;
    const hadOwn = Object.prototype.hasOwnProperty.call(target, 'forward');
    const previous = target['forward'];
    const original = layer.forward;
    // Not enumerable, so Module's field walk (parameters, children) never sees it.
    Object.defineProperty(target, 'forward', {
      configurable: true,
      writable: true,
      enumerable: false,
      value: (x: Tensor): Tensor => {
        const y = original.call(m, x);
        shapes.set(m, [...y.shape]);
        return y;
      },
    });
    restore.push(() => {
      if (hadOwn) target['forward'] = previous;
      else delete target['forward'];
    });
  }
  const training = modules.map(([, m]) => m.training);
  // The shape pass must not touch running statistics: an explicit bnMode ('train') wins over eval().
  const batchNorms = modules.map(([, m]) => m).filter((m): m is BatchNorm2d => m instanceof BatchNorm2d);
  const bnModes = batchNorms.map((bn) => bn.bnMode);
  const size = inputShape.reduce((a, b) => a * b, 1);
  const x = tensor(gpu, new Float32Array(size), inputShape);
  // Fused conv + batch norm passes would skip the wrapped forwards of both modules.
  const fused = fusion.convBatchNorm;
  try {
    model.eval();
    for (const bn of batchNorms) bn.bnMode = 'frozen';
    fusion.convBatchNorm = false;
    const y = noGrad(() => model.forward(x));
    y.release();
  } finally {
    fusion.convBatchNorm = fused;
    x.release();
    for (const r of restore) r();
    modules.forEach(([, m], i) => (m.training = training[i]!));
    batchNorms.forEach((bn, i) => (bn.bnMode = bnModes[i]!));
  }

  const rows: SummaryRow[] = modules.map(([path, m]) => {
    let trainable = 0;
    let frozen = 0;
    for (const [name, p] of m.namedParameters()) if (own(name)) (p.requiresGrad ? (trainable += p.size) : (frozen += p.size));
    let buffers = 0;
    for (const [name, b] of m.namedBuffers()) if (own(name) && !uncounted.has(name)) buffers += b.size;
    const params = trainable + frozen + buffers;
    const status = params === 0 ? '' : trainable === 0 ? 'frozen' : frozen === 0 ? 'trainable' : 'mixed';
    return { path, type: m.constructor.name, outputShape: shapes.get(m) ?? null, params, trainableParams: trainable, nonTrainableParams: frozen + buffers, status };
  });
  return totals(rows);
}

function totals(rows: SummaryRow[]): Summary {
  const sum = (f: (r: SummaryRow) => number) => rows.reduce((a, r) => a + f(r), 0);
  return { rows, totalParams: sum((r) => r.params), trainableParams: sum((r) => r.trainableParams), nonTrainableParams: sum((r) => r.nonTrainableParams) };
}

const thousands = (n: number) => n.toLocaleString('en-US');

/** The summary (or just its rows) as a plain-text table (columns padded with spaces) and the three totals. */
export function formatSummary(input: Summary | readonly SummaryRow[]): string {
  const s: Summary = 'rows' in input ? input : totals([...input]);
  const header = ['Layer', 'Type', 'Output shape', 'Params', 'Trainable'];
  const cells = s.rows.map((r) => [r.path === '' ? '(model)' : r.path, r.type, r.outputShape ? `[${r.outputShape.join(', ')}]` : '-', thousands(r.params), r.status]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === 3 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd();
  const rule = '-'.repeat(widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1));
  return [
    line(header),
    rule,
    ...cells.map(line),
    rule,
    `Total params: ${thousands(s.totalParams)}`,
    `Trainable params: ${thousands(s.trainableParams)}`,
    `Non-trainable params: ${thousands(s.nonTrainableParams)}`,
  ].join('\n');
}
