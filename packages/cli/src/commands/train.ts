/**
 * `graft train <data>`: the Keras tutorial's workflow on a folder of images. Phase 1 trains a new
 * head on the frozen backbone; with `--mode finetune`, phase 2 unfreezes the last N units and trains
 * them with the head at a lower rate. Everything lands in runs/<name>/.
 */
import { join } from 'node:path';
import type { BatchNormMode } from '@graft/autograd';
import { createGpu } from '@graft/kernels';
import { graftHead } from '@graft/models';
import { Command, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import type { AugmentOptions } from '../data/index.js';
import { createProgress } from '../progress.js';
import { loadBackbone, modelNames, type ModelName } from '../train/backbones.js';
import { defaultTrainConfig, type TrainConfig } from '../train/config.js';
import { GraftModel } from '../train/graftModel.js';
import { formatGroupTable } from '../train/groups.js';
import { openDataset, preparePhase, runTraining, scaleLr } from '../train/run.js';

export function intArg(name: string, min = 0) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got '${value}'`);
    return n;
  };
}

export function numberArg(name: string, min = 0, max = Infinity) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got '${value}'`);
    return n;
  };
}

/** `--head 256,128` -> hidden widths; `--head linear` -> none. */
function headArg(value: string): number[] {
  if (value === 'linear' || value === '') return [];
  const widths = value.split(',').map(Number);
  if (widths.some((w) => !Number.isInteger(w) || w < 1)) throw new InvalidArgumentError(`--head takes hidden widths like 256,128 (or 'linear'), got '${value}'`);
  return widths;
}

/** `--augment flip,rotation=10,zoom=0.1,crop,brightness=0.2,contrast=0.2` -> options. */
export function augmentArg(value: string): AugmentOptions {
  if (value === 'none') return {};
  const options: AugmentOptions = {};
  for (const part of value.split(',')) {
    const [key, raw] = part.split('=');
    const n = raw === undefined ? undefined : Number(raw);
    if (raw !== undefined && !Number.isFinite(n)) throw new InvalidArgumentError(`--augment ${key}: '${raw}' is not a number`);
    switch (key) {
      case 'flip': options.flip = true; break;
      case 'rotation': options.rotation = n ?? 10; break;
      case 'zoom': options.zoom = n ?? 0.1; break;
      case 'crop': options.randomResizedCrop = { scale: [n ?? 0.5, 1], ratio: [3 / 4, 4 / 3] }; break;
      case 'brightness': options.brightness = n ?? 0.2; break;
      case 'contrast': options.contrast = n ?? 0.2; break;
      default: throw new InvalidArgumentError(`--augment: unknown '${key}' (flip, rotation=deg, zoom=f, crop=min-scale, brightness=f, contrast=f, or none)`);
    }
  }
  return options;
}

interface TrainFlags {
  model: ModelName;
  weights: string;
  alpha?: number;
  size?: number;
  head: number[];
  dropout: number;
  mode: 'extract' | 'finetune';
  epochs: number;
  fineTuneEpochs: number;
  unfreezeLast: number;
  bn: BatchNormMode;
  batchSize: number;
  optimizer: TrainConfig['optimizer'];
  lr: string;
  fineTuneLr?: string;
  wd?: string;
  schedule: TrainConfig['schedule'];
  labelSmoothing: number;
  classWeights: TrainConfig['classWeights'];
  augment?: AugmentOptions;
  augmentIn: 'all' | 'finetune';
  augmentViews: number;
  featureCache: boolean;
  patience: number;
  valSplit: number;
  testSplit: number;
  valDir?: string;
  cifar10?: boolean;
  seed: number;
  workers?: number;
  out: string;
  name?: string;
  resume?: boolean;
  overwrite?: boolean;
  dryRun?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function trainConfigFrom(data: string, flags: TrainFlags): TrainConfig {
  const name = flags.name ?? `${flags.model}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`;
  return {
    ...defaultTrainConfig,
    data,
    source: flags.cifar10 ? 'cifar10' : 'folder',
    valDir: flags.valDir,
    valSplit: flags.valSplit,
    testSplit: flags.testSplit,
    model: flags.model,
    weights: flags.weights,
    alpha: flags.alpha,
    size: flags.size,
    head: { hidden: flags.head, dropout: flags.dropout, activation: 'relu' },
    mode: flags.mode,
    epochs: flags.epochs,
    fineTuneEpochs: flags.fineTuneEpochs,
    unfreezeLast: flags.unfreezeLast,
    bn: flags.bn,
    batchSize: flags.batchSize,
    optimizer: flags.optimizer,
    lr: flags.lr,
    fineTuneLr: flags.fineTuneLr,
    weightDecay: flags.wd,
    schedule: flags.schedule,
    labelSmoothing: flags.labelSmoothing,
    classWeights: flags.classWeights,
    augment: flags.augment && Object.keys(flags.augment).length > 0 ? flags.augment : undefined,
    augmentIn: flags.augmentIn,
    augmentViews: flags.augmentViews,
    featureCache: flags.featureCache,
    patience: flags.patience,
    seed: flags.seed,
    workers: flags.workers,
    runDir: join(flags.out, name),
  };
}

/** The options every training-like command shares (train, demo). */
export function addTrainingOptions(command: Command, defaults: Partial<TrainFlags> = {}): Command {
  const d = { ...defaultTrainConfig, ...defaults } as typeof defaultTrainConfig & Partial<TrainFlags>;
  return command
    .addOption(new Option('--model <name>', 'backbone').choices(modelNames as unknown as string[]).default(d.model))
    .option('--weights <file|nsfwjs|none>', 'pretrained weights: a .pth/.safetensors/.h5/.onnx file, a TF.js model.json folder, the built-in nsfwjs MobileNetV2, or none', d.weights)
    .option('--alpha <a>', 'MobileNetV2 width multiplier', numberArg('--alpha', 0.1, 2))
    .option('--size <px>', 'square input size (default: the weights\' crop size)', intArg('--size', 32))
    .option('--head <widths>', "hidden Dense widths before the classifier, e.g. 256,128 ('linear': none)", headArg, d.head.hidden)
    .option('--dropout <p>', 'dropout before each Dense layer of the head', numberArg('--dropout', 0, 0.99), d.head.dropout)
    .addOption(new Option('--mode <mode>', 'extract: frozen backbone, head only; finetune: then unfreeze the last blocks').choices(['extract', 'finetune']).default(d.mode))
    .option('--epochs <n>', 'phase 1 epochs (head on the frozen backbone)', intArg('--epochs'), d.epochs)
    .option('--fine-tune-epochs <n>', 'phase 2 epochs (--mode finetune)', intArg('--fine-tune-epochs'), d.fineTuneEpochs)
    .option('--unfreeze-last <n>', 'phase 2: backbone units to unfreeze, counted from the top (MobileNetV2 blocks, ResNet stages, VGG blocks)', intArg('--unfreeze-last'), d.unfreezeLast)
    .addOption(new Option('--bn <mode>', 'phase 2 batch norms: frozen (running stats, Keras advice), affine (stats frozen, scale/shift train), train').choices(['frozen', 'affine', 'train']).default(d.bn))
    .option('--batch-size <n>', 'images per step', intArg('--batch-size', 1), d.batchSize)
    .addOption(new Option('--optimizer <name>').choices(['adam', 'adamw', 'sgd']).default(d.optimizer))
    .option('--lr <spec>', 'phase 1 learning rate: a number, name=value groups (head=1e-3,layer4=1e-4,default=1e-5) or a JSON file', d.lr)
    .option('--fine-tune-lr <spec>', 'phase 2 learning rate (same forms; default phase 1 / 10)')
    .option('--wd <spec>', 'weight decay: a number or name=value per group')
    .addOption(new Option('--schedule <name>', 'learning-rate schedule per phase').choices(['constant', 'cosine']).default(d.schedule))
    .option('--label-smoothing <eps>', 'softmax cross-entropy label smoothing', numberArg('--label-smoothing', 0, 0.99), d.labelSmoothing)
    .addOption(new Option('--class-weights <mode>', "balanced: weight classes by n / (k * count) (scikit-learn's rule)").choices(['none', 'balanced']).default(d.classWeights))
    .option('--augment <list>', 'seeded augmentation: flip,rotation=10,zoom=0.1,crop=0.5,brightness=0.2,contrast=0.2 (slower: the backbone runs every epoch)', augmentArg)
    .addOption(new Option('--augment-in <phases>', "augment in 'all' phases, or in 'finetune' only (phase 1 then runs the backbone once)").choices(['all', 'finetune']).default(d.augmentIn))
    .option('--augment-views <n>', 'cache n augmented views of each training image once (0: fresh augmentation every epoch, streamed through the frozen backbone: slower)', intArg('--augment-views'), d.augmentViews)
    .option('--no-feature-cache', "phase 1: do not read or fill the on-disk feature cache (graft extract's; ~/.cache/graft/features)")
    .option('--patience <n>', 'early stopping: epochs without val-loss improvement (0: off); restores the best weights', intArg('--patience'), d.patience)
    .option('--val-split <f>', 'stratified validation fraction when there is no val/ folder', numberArg('--val-split', 0, 0.9), d.valSplit)
    .option('--test-split <f>', 'stratified test fraction held out for the final report', numberArg('--test-split', 0, 0.9), d.testSplit)
    .option('--val-dir <dir>', 'a separate validation folder (class per subfolder)')
    .option('--cifar10', "<data> is CIFAR-10's binary folder (data_batch_*.bin)")
    .option('--seed <n>', 'seed for splits, shuffling, augmentation and the head', intArg('--seed'), d.seed)
    .option('--workers <n>', 'image decoding threads', intArg('--workers'))
    .option('--out <dir>', 'folder for runs', 'runs')
    .option('--name <name>', 'run name (default: model and time)')
    .option('--json', 'print the result as JSON on stdout')
    .option('--quiet', 'no progress bars or per-epoch lines');
}

async function dryRun(config: TrainConfig, print: (s: string) => void): Promise<void> {
  const gpu = await createGpu();
  try {
    const dataset = openDataset(config);
    const loaded = await loadBackbone(gpu, { model: config.model, weights: config.weights, alpha: config.alpha, warn: () => {} });
    const gm = new GraftModel(loaded, graftHead(gpu, loaded.numFeatures, { ...config.head, classes: dataset.classes.length }));
    try {
      print(`data: ${dataset.classes.length} classes (${dataset.classes.join(', ')}), ${dataset.train.length} train / ${dataset.val.length} val / ${dataset.test.length} test images`);
      const phases: [1 | 2, string][] = [[1, config.lr]];
      if (config.mode === 'finetune') phases.push([2, config.fineTuneLr ?? scaleLr(config.lr, 0.1)]);
      for (const [phase, lr] of phases) {
        // The optimizer training would build, so the table shows the groups exactly as resolved.
        const optimizer = preparePhase(gm, config, phase, lr);
        const named = [...gm.model.namedParameters()];
        const modes = [...gm.batchNormModes()];
        const rows = optimizer.paramGroups.map((g) => {
          const group = g as unknown as { name: string; names: string[]; params: { size: number }[]; lr: number; weightDecay?: number };
          const bns = modes.filter(([m]) => group.names.some((n) => n.startsWith(`${m}.`))).map(([, mode]) => mode ?? 'follows train/eval');
          return {
            name: group.name,
            tensors: group.names.length,
            parameters: group.params.reduce((sum, p) => sum + p.size, 0),
            lr: group.lr,
            weightDecay: group.weightDecay ?? 0,
            batchNorm: [...new Set(bns)].join(', ') || '-',
          };
        });
        optimizer.release();
        const frozen = named.filter(([, p]) => !p.requiresGrad).reduce((sum, [, p]) => sum + p.size, 0);
        print(`\nphase ${phase}: ${phase === 1 ? 'head on the frozen backbone' : `last ${config.unfreezeLast} unit(s) unfrozen: ${gm.trainableUnitNames().join(', ')}`} (${frozen.toLocaleString('en-US')} frozen parameters)`);
        print(formatGroupTable(rows));
      }
    } finally {
      gm.release();
    }
  } finally {
    gpu.destroy();
  }
}

export function trainCommand(): Command {
  const command = new Command('train')
    .description('train a new head on a pretrained backbone (and fine-tune its last blocks) on a folder of images')
    .argument('<data>', 'image folder: <data>/<class>/*.jpg, or <data>/train/<class>/… with val/ and test/')
    .option('--resume', 'continue the run named by --out/--name from its last checkpoint')
    .option('--overwrite', 'replace an earlier run of the same --name')
    .option('--dry-run', 'print the data summary and the parameter-group table, then exit');
  addTrainingOptions(command)
    .addHelpText(
      'after',
      `
Examples:
  graft train photos/ --epochs 10                                  # feature extraction: frozen MobileNetV2, new head
  graft train photos/ --mode finetune --unfreeze-last 3 --fine-tune-epochs 5
  graft train photos/ --model resnet50 --weights resnet50-11ad3fa6.pth --mode finetune --lr head=1e-3,layer4=1e-4
  graft train photos/ --augment flip,rotation=10,zoom=0.1 --patience 3 --name flowers
  graft train photos/ --dry-run --mode finetune --unfreeze-last 2   # show what would train, at which rate
  graft train cifar-10-batches-bin/ --cifar10 --size 96 --epochs 5`,
    )
    .action(async (data: string, flags: TrainFlags) => {
      const config = trainConfigFrom(data, flags);
      const print = (s: string) => process.stdout.write(`${s}\n`);
      if (flags.dryRun) return dryRun(config, print);
      if (flags.resume && !flags.name) command.error('graft train: --resume needs --name (the run to continue)', { exitCode: 2 });
      const quiet = flags.quiet || flags.json;
      const gpu = await createGpu();
      let interrupted = false;
      const onSigint = () => {
        if (interrupted) process.exit(130);
        interrupted = true;
        process.stderr.write('\ngraft: stopping after this epoch (checkpoint saved); press Ctrl-C again to quit at once\n');
      };
      process.on('SIGINT', onSigint);
      try {
        const result = await runTraining(gpu, config, {
          log: quiet ? () => {} : (l) => process.stderr.write(`${l}\n`),
          warn: (l) => process.stderr.write(`${pc.yellow('graft: warning')} ${l}\n`),
          progress: createProgress({ enabled: quiet ? false : undefined }),
          interrupted: () => interrupted,
        }, { resume: flags.resume, overwrite: flags.overwrite });
        const summary = {
          run: result.runDir,
          classes: result.classes,
          phase1ValAccuracy: result.phaseAccuracy[1],
          phase2ValAccuracy: result.phaseAccuracy[2],
          validationAccuracy: result.validation?.accuracy,
          testAccuracy: result.test?.accuracy,
          skippedImages: result.skipped,
          interrupted: result.interrupted,
        };
        if (flags.json) print(JSON.stringify(summary, null, 2));
        else if (!result.interrupted) print(`${pc.green('done')}: ${result.runDir} (report.html, metrics.jsonl, checkpoints/)${summary.validationAccuracy !== undefined ? `; val accuracy ${(100 * summary.validationAccuracy).toFixed(1)}%` : ''}`);
        if (result.interrupted) process.exitCode = 130;
      } finally {
        process.off('SIGINT', onSigint);
        gpu.destroy();
      }
    });
  return command;
}
