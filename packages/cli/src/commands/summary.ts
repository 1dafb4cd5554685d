/**
 * `graft summary`: the Keras-like layer table of a backbone (and of backbone + new head with
 * --classes): output shapes, parameter counts and what trains. With a head the backbone is frozen,
 * as in phase 1 of graft train, so the table shows what that phase trains.
 */
import { createGpu } from '@graft/kernels';
import { formatSummary, graftHead, summary, type Summary } from '@graft/models';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadBackbone, modelNames, type ModelName } from '../train/backbones.js';
import { GraftModel } from '../train/graftModel.js';
import { intArg, numberArg } from './train.js';

interface SummaryFlags {
  model: ModelName;
  weights: string;
  alpha?: number;
  size?: number;
  classes?: number;
  head: number[];
  dropout: number;
  json?: boolean;
}

export interface SummaryResult extends Summary {
  model: ModelName;
  flavour: string;
  inputShape: number[];
  features: number;
  classes?: number;
}

function widthsArg(value: string): number[] {
  if (value === 'linear' || value === '') return [];
  const widths = value.split(',').map(Number);
  if (widths.some((w) => !Number.isInteger(w) || w < 1)) throw new InvalidArgumentError(`--head takes hidden widths like 256,128 (or 'linear'), got '${value}'`);
  return widths;
}

export async function runSummary(flags: SummaryFlags): Promise<SummaryResult> {
  const gpu = await createGpu();
  try {
    const loaded = await loadBackbone(gpu, { model: flags.model, weights: flags.weights, alpha: flags.alpha, warn: () => {} });
    const size = flags.size ?? loaded.preprocessing.crop;
    const inputShape = [1, size, size, 3];
    const gm = flags.classes ? new GraftModel(loaded, graftHead(gpu, loaded.numFeatures, { hidden: flags.head, dropout: flags.dropout, classes: flags.classes })) : undefined;
    try {
      const s = summary(gm ? gm.model : loaded.backbone, inputShape);
      return { ...s, model: flags.model, flavour: loaded.flavour, inputShape, features: loaded.numFeatures, classes: flags.classes };
    } finally {
      if (gm) gm.release();
      else loaded.backbone.release();
    }
  } finally {
    gpu.destroy();
  }
}

export function summaryCommand(): Command {
  return new Command('summary')
    .description('print a Keras-like summary of a backbone (and a new head with --classes): layers, output shapes, parameters')
    .addOption(new Option('--model <name>', 'backbone').choices(modelNames as unknown as string[]).default('mobilenet_v2'))
    .option('--weights <file|nsfwjs|none>', 'weights deciding the flavour (Keras files build the Keras variant); values do not matter here', 'none')
    .option('--alpha <a>', 'MobileNetV2 width multiplier', numberArg('--alpha', 0.1, 2))
    .option('--size <px>', "square input size (default: the weights' crop size, 224)", intArg('--size', 32))
    .option('--classes <n>', 'add a new head with n outputs (the backbone shown frozen, as graft train phase 1)', intArg('--classes', 1))
    .option('--head <widths>', "hidden Dense widths of the head, e.g. 256,128 ('linear': none)", widthsArg, [])
    .option('--dropout <p>', 'dropout before each Dense layer of the head', numberArg('--dropout', 0, 0.99), 0.2)
    .option('--json', 'print the summary as JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  graft summary                                     # MobileNetV2 at 224 px
  graft summary --model resnet50 --size 160 --classes 5 --head 256
  graft summary --weights nsfwjs --classes 3        # the Keras-flavoured MobileNetV2 graft train uses by default
  graft summary --model vgg16 --json`,
    )
    .action(async (flags: SummaryFlags) => {
      const result = await runSummary(flags);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      const title = `${result.model} (${result.flavour}${flags.alpha ? `, alpha ${flags.alpha}` : ''}), input [${result.inputShape.join(', ')}], ${result.features} features${result.classes ? `, head -> ${result.classes} classes` : ''}`;
      process.stdout.write(`${title}\n\n${formatSummary(result)}\n`);
    });
}
