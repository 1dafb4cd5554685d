/**
 * `graft demo`: the README's main job, offline. A pretrained MobileNetV2 (the Keras model shipped by
 * the nsfwjs npm package) adapted to six classes of clip art committed to the repository
 * (packages/cli/demo-data/clipart6, from Debian's openclipart-png), showing three numbers on the same
 * held-out split:
 *   1. a raw-pixel baseline: the same linear head on the pixels themselves;
 *   2. phase 1, feature extraction: the backbone frozen, a new head trained on its features;
 *   3. phase 2, fine-tuning: the last blocks unfrozen and trained with the head at a tenth of the rate.
 * The defaults are chosen to finish within five minutes on a 2-core machine without a GPU: 160 px
 * inputs; phase 1 on features computed once (60 cheap epochs of the head alone); phase 2 with seeded
 * augmentation (flip, rotation, zoom) streamed through the frozen prefix for 6 epochs; label smoothing
 * 0.1 in both (clip art overfits fast: 254 training images).
 */
import { fileURLToPath } from 'node:url';
import { createGpu, describeAdapter } from '@graft/kernels';
import Table from 'cli-table3';
import { Command } from 'commander';
import pc from 'picocolors';
import { createDecodePool } from '../data/index.js';
import { createProgress } from '../progress.js';
import { rawPixelBaseline } from '../train/baseline.js';
import { openDataset, runTraining } from '../train/run.js';
import { addTrainingOptions, augmentArg, trainConfigFrom } from './train.js';
import { formatAdapter } from './info.js';

/** The committed dataset, found from this file in both src/commands and dist/commands. */
export const demoData = fileURLToPath(new URL('../../demo-data/clipart6', import.meta.url));

export const demoDefaults = {
  model: 'mobilenet_v2',
  weights: 'nsfwjs',
  size: 160,
  mode: 'finetune',
  epochs: 60,
  fineTuneEpochs: 6,
  unfreezeLast: 3,
  lr: '3e-3',
  fineTuneLr: '3e-4',
  labelSmoothing: 0.1,
  augment: 'flip,rotation=10,zoom=0.1',
  augmentIn: 'finetune',
  valSplit: 0.3,
  name: 'demo',
} as const;

export function demoCommand(): Command {
  const command = new Command('demo').description(
    'fine-tune a pretrained MobileNetV2 on six classes of clip art (offline): raw-pixel baseline vs feature extraction vs fine-tuning',
  );
  addTrainingOptions(command, { ...demoDefaults, head: { hidden: [], dropout: 0.2, activation: 'relu' } } as never);
  command.setOptionValueWithSource('size', demoDefaults.size, 'default');
  command.setOptionValueWithSource('fineTuneLr', demoDefaults.fineTuneLr, 'default');
  command.setOptionValueWithSource('name', demoDefaults.name, 'default');
  command.setOptionValueWithSource('augment', augmentArg(demoDefaults.augment), 'default');
  return command
    .option('--data <dir>', 'a different image folder to run the demo on', demoData)
    .addHelpText('after', '\nExamples:\n  graft demo\n  graft demo --size 128 --fine-tune-epochs 4   # faster\n  graft demo --json')
    .action(async (flags) => {
      const started = performance.now();
      const config = trainConfigFrom(flags.data, flags);
      const quiet = flags.quiet || flags.json;
      const say = quiet ? () => {} : (s: string) => process.stderr.write(`${s}\n`);
      const gpu = await createGpu();
      try {
        say(`${formatAdapter(describeAdapter(gpu.adapter!, gpu.device))}\n`);
        const dataset = openDataset(config);
        say(`data: ${demoData === flags.data ? 'clip art from Debian\'s openclipart-png (public domain), ' : ''}${dataset.classes.length} classes (${dataset.classes.join(', ')}), ${dataset.train.length} training / ${dataset.val.length} held-out images`);
        say(`model: MobileNetV2 (alpha 1.0) pretrained, from the nsfwjs npm package (Keras, TF.js layers, uint8); inputs ${config.size} px\n`);

        say('1/3 raw-pixel baseline: the same linear head on the pixels');
        const pool = createDecodePool(config.workers);
        let baseline: number;
        try {
          baseline = await rawPixelBaseline(gpu, { train: dataset.train, val: dataset.val, classes: dataset.classes.length, size: config.size, epochs: config.epochs, lr: 1e-3, batchSize: config.batchSize, seed: config.seed, pool });
        } finally {
          await pool.close();
        }
        say(`    held-out accuracy ${(100 * baseline).toFixed(1)}%\n`);
        say(`2/3 + 3/3 feature extraction (${config.epochs} epochs), then fine-tuning the last ${config.unfreezeLast} blocks (${config.fineTuneEpochs} epochs)`);
        const result = await runTraining(gpu, config, {
          log: say,
          warn: (l) => process.stderr.write(`${pc.yellow('graft: warning')} ${l}\n`),
          progress: createProgress({ enabled: quiet ? false : undefined }),
        }, { overwrite: true });
        const seconds = (performance.now() - started) / 1000;
        const rows = [
          ['raw-pixel baseline', baseline],
          ['phase 1: feature extraction', result.phaseAccuracy[1]],
          ['phase 2: fine-tuning', result.phaseAccuracy[2]],
        ] as const;
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ classes: result.classes, baseline, featureExtraction: result.phaseAccuracy[1], fineTuning: result.phaseAccuracy[2], seconds, run: result.runDir }, null, 2)}\n`);
        } else {
          const table = new Table({ head: ['', `held-out accuracy (${dataset.val.length} images)`], style: { head: [], border: [] } });
          for (const [label, acc] of rows) table.push([label, acc === undefined ? '-' : `${(100 * acc).toFixed(1)}%`]);
          process.stdout.write(`\n${table.toString()}\n`);
          process.stdout.write(`finished in ${seconds.toFixed(0)} s; report: ${result.runDir}/report.html\n`);
        }
      } finally {
        gpu.destroy();
      }
    });
}
