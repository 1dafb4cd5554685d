/**
 * The tape: every op output records a Node (op name, inputs, backward). backward() walks the nodes
 * that lead to tensors requiring grad in reverse topological order; nodes whose inputs require no
 * grad were recorded without a backward, so a frozen prefix costs no backward work at all. Memory
 * is freed by graph: backward() frees every intermediate of its graph once gradients are computed,
 * noGrad() frees every intermediate its result does not need, releaseGraph() does so on demand.
 */
import { binary, fill, sizeOf, shapeToString, unary, type Gpu, type GpuTensor } from '@graft/kernels';
import { AutogradError } from './errors.js';
import { Tensor } from './tensor.js';

/**
 * Gradients with respect to the inputs, given the gradient of the output. `needs[i]` says whether
 * input i wants one; return undefined where it does not. Returned tensors are handed to the tape.
 */
export type BackwardFn = (dy: GpuTensor, needs: readonly boolean[]) => (GpuTensor | undefined)[];

export interface Node {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  backward: BackwardFn | null;
  /** Buffers kept only for backward (not tensors of the graph); freed with the graph. */
  saved: GpuTensor[];
  freed: boolean;
  /** The noGrad call that recorded the node (0: none). noGrad frees only nodes of its own call. */
  readonly scope: number;
}

let gradEnabled = true;
let currentScope = 0;
let scopesOpened = 0;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Makes the output tensor of an op. With grad disabled, or when no input requires grad, the node
 * keeps only its inputs (for freeing the graph) and drops the backward and saved buffers at once.
 */
export function record(gpu: Gpu, op: string, inputs: readonly Tensor[], output: GpuTensor, backward: BackwardFn, saved: GpuTensor[] = []): Tensor {
  const requiresGrad = gradEnabled && inputs.some((t) => t.requiresGrad);
  if (!requiresGrad) gpu.release(...saved);
  const node: Node = { op, inputs, backward: requiresGrad ? backward : null, saved: requiresGrad ? saved : [], freed: false, scope: currentScope };
  return new Tensor(gpu, output, requiresGrad, node);
}

/** Runs `fn` without recording gradients; frees every intermediate the result does not need. */
export function noGrad<T extends Tensor | readonly Tensor[] | void>(fn: () => T): T {
  const [previousGrad, previousScope] = [gradEnabled, currentScope];
  const scope = ++scopesOpened;
  gradEnabled = false;
  currentScope = scope;
  let result: T;
  try {
    result = fn();
  } finally {
    gradEnabled = previousGrad;
    currentScope = previousScope;
  }
  const results = result instanceof Tensor ? [result] : Array.isArray(result) ? (result as readonly Tensor[]) : [];
  const keep = new Set(results);
  // Only what this call made: tensors from outside (e.g. a training graph's activations) stay alive.
  for (const r of results) freeGraph(r, keep, (t) => t.creator!.scope === scope);
  for (const r of results) r.creator = null; // the result is now a plain leaf
  return result;
}

/** Non-leaf tensors reachable from `root` through creators, inputs before outputs. */
function topologicalOrder(root: Tensor, follow: (t: Tensor) => boolean): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative depth-first search: deep networks would overflow a recursive one.
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length > 0) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (seen.has(t) || t.isLeaf || !follow(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    for (const input of t.creator!.inputs) if (!seen.has(input)) stack.push([input, false]);
  }
  return order;
}

/** Frees every intermediate reachable from `root` (through tensors `follow` accepts) except those in `keep` and retained ones. */
function freeGraph(root: Tensor, keep: ReadonlySet<Tensor>, follow: (t: Tensor) => boolean = () => true): void {
  for (const t of topologicalOrder(root, follow)) {
    const node = t.creator!;
    t.gpu.release(...node.saved);
    node.saved = [];
    node.backward = null;
    node.freed = true;
    if (keep.has(t)) continue;
    if (t.retained) {
      t.creator = null; // survives as a leaf that no longer knows its history
      t.requiresGrad = false;
      continue;
    }
    t.release();
  }
}

/** Frees `root`'s graph: every intermediate that led to it (not leaves, not retained tensors), and `root`. */
export function releaseGraph(root: Tensor): void {
  freeGraph(root, new Set());
  root.release();
}

function accumulate(gpu: Gpu, into: GpuTensor | undefined, gradient: GpuTensor): GpuTensor {
  if (!into) return gradient;
  const sum = binary(gpu, 'add', into, gradient);
  gpu.release(into, gradient);
  return sum;
}

/**
 * Computes gradients of `root` with respect to every leaf that requires grad, adding them into
 * each leaf's `.grad`, then frees the graph (root keeps its value). `gradient` is dL/droot and is
 * required unless root holds a single element.
 */
export function backward(root: Tensor, gradient?: Tensor): void {
  if (root.creator?.freed) {
    throw new AutogradError(`backward() through ${root.describe()}: its graph was already freed by an earlier backward()`);
  }
  if (!root.requiresGrad) {
    throw new AutogradError(`backward() from ${root.describe()}: it does not require grad (no input of its graph requires grad; is everything frozen?)`);
  }
  const gpu = root.gpu;
  if (!gradient && root.size !== 1) {
    throw new AutogradError(`backward() on ${root.describe()} of shape ${shapeToString(root.shape)}: a non-scalar needs an explicit gradient`);
  }
  if (gradient && sizeOf(gradient.shape) !== root.size) {
    throw new AutogradError(`backward(): gradient shape ${shapeToString(gradient.shape)} does not match ${root.describe()} of shape ${shapeToString(root.shape)}`);
  }
  const grads = new Map<Tensor, GpuTensor>();
  grads.set(root, gradient ? unary(gpu, 'copy', gradient.data) : fill(gpu, root.shape, 1));

  for (const t of topologicalOrder(root, (x) => x.requiresGrad).reverse()) {
    const dy = grads.get(t);
    if (!dy) continue;
    grads.delete(t);
    const node = t.creator!;
    const needs = node.inputs.map((input) => input.requiresGrad);
    const inputGrads = node.backward!(dy.reshape(t.shape), needs);
    gpu.release(dy);
    node.inputs.forEach((input, i) => {
      const g = inputGrads[i];
      if (!needs[i]) {
        if (g) gpu.release(g);
        return;
      }
      if (!g) throw new AutogradError(`${node.op} backward gave no gradient for input ${i}, which requires grad`);
      if (sizeOf(g.shape) !== input.size) {
        throw new AutogradError(`${node.op} backward gave a gradient of shape ${shapeToString(g.shape)} for input ${i} of shape ${shapeToString(input.shape)}`);
      }
      if (input.isLeaf) {
        // The previous gradient's buffer is consumed by accumulate; its Tensor becomes released.
        const previous = input.grad?.takeStorage();
        const sum = accumulate(gpu, previous, g.reshape(input.shape));
        input.grad = new Tensor(gpu, sum, false, null, `grad of ${input.describe()}`);
      } else {
        grads.set(input, accumulate(gpu, grads.get(input), g.reshape(input.shape)));
      }
    });
  }
  for (const leftover of grads.values()) gpu.release(leftover);
  freeGraph(root, new Set([root]));
}
