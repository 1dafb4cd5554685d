/** What a training run is: every choice `graft train` makes, as data (saved as the run's config.json). */
import type { BatchNormMode } from '@graft/autograd';
import type { AugmentOptions } from '../data/index.js';
import type { ModelName } from './backbones.js';

export type TrainMode = 'extract' | 'finetune';
export type OptimizerName = 'adam' | 'adamw' | 'sgd';
export type ScheduleName = 'constant' | 'cosine';

export interface TrainConfig {
  /** An image folder, or a CIFAR-10 binary folder with `source: 'cifar10'`. */
  data: string;
  source: 'folder' | 'cifar10';
  valDir?: string;
  valSplit: number;
  testSplit: number;
  model: ModelName;
  weights: string;
  alpha?: number;
  /** Square input size; default the weights' crop size. */
  size?: number;
  head: { hidden: number[]; dropout: number; activation: 'relu' | 'relu6' };
  mode: TrainMode;
  /** Phase 1 (head on the frozen backbone) epochs. */
  epochs: number;
  /** Phase 2 (fine-tuning) epochs; used in mode 'finetune'. */
  fineTuneEpochs: number;
  unfreezeLast: number;
  bn: BatchNormMode;
  batchSize: number;
  optimizer: OptimizerName;
  /** Phase 1 `--lr` spec (a number, name=value list or JSON file; see groups.ts). */
  lr: string;
  /** Phase 2 `--lr` spec; default the phase-1 rate / 10 for every group (Keras' fine-tuning advice). */
  fineTuneLr?: string;
  weightDecay?: string;
  momentum: number;
  schedule: ScheduleName;
  labelSmoothing: number;
  classWeights: 'none' | 'balanced';
  augment?: AugmentOptions;
  /** Which phases augment: 'all', or 'finetune' only (phase 1 then runs the backbone once, cached). */
  augmentIn: 'all' | 'finetune';
  /** 0: a fresh augmentation every epoch, streamed through the frozen prefix; V > 0: V augmented views per image, cached once. */
  augmentViews: number;
  /** Phase 1 without augmentation reads and fills the on-disk feature cache (`graft extract`'s). */
  featureCache: boolean;
  /** Epochs without val-loss improvement before stopping (0: never); the best weights are restored. */
  patience: number;
  clipNorm?: number;
  seed: number;
  workers?: number;
  runDir: string;
}

export const defaultTrainConfig: Omit<TrainConfig, 'data' | 'runDir'> = {
  source: 'folder',
  valSplit: 0.2,
  testSplit: 0,
  model: 'mobilenet_v2',
  weights: 'nsfwjs',
  head: { hidden: [], dropout: 0.2, activation: 'relu' },
  mode: 'extract',
  epochs: 10,
  fineTuneEpochs: 10,
  unfreezeLast: 2,
  bn: 'frozen',
  batchSize: 16,
  optimizer: 'adam',
  lr: '1e-3',
  momentum: 0.9,
  schedule: 'constant',
  labelSmoothing: 0,
  classWeights: 'none',
  augmentIn: 'all',
  augmentViews: 0,
  featureCache: true,
  patience: 0,
  seed: 0,
};
