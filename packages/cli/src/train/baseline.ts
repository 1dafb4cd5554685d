/**
 * The raw-pixel baseline: the same kind of head (one Linear layer, softmax) trained on the images'
 * pixels, downsampled, instead of a pretrained backbone's features. What transfer learning must beat:
 * if pretrained features do not clearly win, the backbone is not helping on this data.
 */
import { flatten, Linear, Module, noGrad, type Tensor } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { kerasMobileNet } from '@graft/models';
import type { DecodePool, Sample } from '../data/index.js';
import { buildPrefixCache, cachedBatches, epochOrder, evaluate, trainEpoch, type SuffixModel } from './loop.js';
import { makeOptimizer } from './optimizers.js';

class PixelHead extends Module implements SuffixModel {
  linear: Linear;
  constructor(gpu: Gpu, inputs: number, classes: number) {
    super();
    this.linear = new Linear(gpu, inputs, classes, { seed: 1 });
  }
  forward(x: Tensor): Tensor {
    return this.linear.forward(x);
  }
  suffix(x: Tensor): Tensor {
    return this.forward(x);
  }
}

/** An identity "prefix" that flattens: what buildPrefixCache needs to cache the pixels themselves. */
const flattenPixels = { eval() {}, prefix: (x: Tensor) => noGrad(() => flatten(x)) };

export interface BaselineOptions {
  train: Sample[];
  val: Sample[];
  classes: number;
  /** Side of the downsampled square image (default 32: 3,072 inputs). */
  size?: number;
  epochs: number;
  lr: number;
  batchSize: number;
  seed: number;
  pool?: DecodePool;
  onSkip?: (id: string, reason: string) => void;
}

/** Trains the pixel baseline; returns its validation accuracy. */
export async function rawPixelBaseline(gpu: Gpu, options: BaselineOptions): Promise<number> {
  const size = options.size ?? 32;
  const spec = { size: [size, size] as [number, number], resize: size };
  const feed = (samples: Sample[]) => ({ samples, spec, preprocessing: kerasMobileNet, pool: options.pool, onSkip: options.onSkip });
  const train = await buildPrefixCache(gpu, flattenPixels, feed(options.train), options.batchSize);
  const val = await buildPrefixCache(gpu, flattenPixels, feed(options.val), options.batchSize);
  const head = new PixelHead(gpu, size * size * 3, options.classes);
  const optimizer = makeOptimizer('adam', head, [{ name: 'pixels', params: '**', lr: options.lr }], 0);
  try {
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      await trainEpoch(head, cachedBatches(gpu, train, options.batchSize, epochOrder(options.train.length, options.seed, epoch)), { optimizer });
    }
    const result = await evaluate(head, cachedBatches(gpu, val, options.batchSize, val.values.map((_, i) => i)));
    return result.accuracy;
  } finally {
    optimizer.release();
    head.release();
  }
}
