/**
 * Seeded inverted dropout: y = x · mask(seed) / (1 - p). The mask is a hash of (seed, element
 * index), so nothing is saved: the backward regenerates it from the same seed and p.
 */
import { dropout as dropoutKernel, dropoutBackward } from '@graft/kernels';
import { AutogradError } from '../errors.js';
import { record } from '../tape.js';
import type { Tensor } from '../tensor.js';

/**
 * With `training` false or p = 0 dropout is the identity and returns x itself, recording nothing
 * (as PyTorch's F.dropout in eval mode, and as `activate(x, 'none')`). That is safe with the tape:
 * no second Tensor wraps x's buffer, so a graph still frees x exactly once, and a leaf stays the
 * caller's. The one rule for callers: the result may BE x, so do not release it separately from x.
 * (Copying instead would cost a full pass over the activations on every inference call.)
 */
export function dropout(x: Tensor, p: number, seed: number, training: boolean): Tensor {
  if (!(Number.isFinite(p) && p >= 0 && p < 1)) throw new AutogradError(`dropout: p must be a drop probability in [0, 1), got ${p}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new AutogradError(`dropout: seed must be a u32 integer, got ${seed}`);
  if (!training || p === 0) return x;
  const gpu = x.gpu;
  return record(gpu, 'dropout', [x], dropoutKernel(gpu, x.data, p, seed), (dy) => [dropoutBackward(gpu, dy, p, seed)]);
}
