/**
 * `graft export <run> --format safetensors|onnx --out <path>`: a trained run for other tools.
 *   safetensors  a folder with model.safetensors (PyTorch layouts, `backbone.*` and `head.*`) and
 *                config.json (architecture, flavour, class names, preprocessing; plus a `graft`
 *                section with what rebuilding needs beyond that: width multiplier, head, input size);
 *   onnx         one .onnx file (opset 13) taking the preprocessed image as NCHW float32 at the run's
 *                input size and giving logits; softmax them for probabilities.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createGpu } from '@graft/kernels';
import { configFile, exportOnnx, exportSafetensors } from '@graft/models';
import { Command, Option } from 'commander';
import { writeFileAtomic } from '../report/index.js';
import { openTarget } from './runTarget.js';

interface ExportFlags {
  format: 'safetensors' | 'onnx';
  out?: string;
  json?: boolean;
}

export interface ExportResult {
  run: string;
  checkpoint: string;
  format: ExportFlags['format'];
  out: string;
  classes: string[];
  inputSize: [number, number];
}

export async function runExport(target: string, flags: ExportFlags): Promise<ExportResult> {
  const gpu = await createGpu();
  try {
    const opened = await openTarget(gpu, target);
    try {
      const { gm, config, classes, preprocessing, spec } = opened;
      const out = flags.out ?? join(opened.runDir, flags.format === 'onnx' ? 'model.onnx' : 'export');
      if (flags.format === 'onnx') {
        mkdirSync(dirname(out), { recursive: true });
        await exportOnnx(gm.model, out, { inputSize: spec.size, graphName: `graft-${config.model}` });
      } else {
        await exportSafetensors(gm.model, out, { architecture: config.model, flavour: gm.loaded.flavour, classNames: classes, preprocessing });
        const path = join(out, configFile);
        const written = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
        const graft = { alpha: config.alpha ?? 1, head: config.head, inputSize: spec.size, resize: spec.resize, run: opened.runDir, checkpoint: opened.checkpoint };
        writeFileAtomic(path, `${JSON.stringify({ ...written, graft }, null, 2)}\n`);
      }
      return { run: opened.runDir, checkpoint: opened.checkpoint, format: flags.format, out, classes, inputSize: spec.size };
    } finally {
      opened.gm.release();
    }
  } finally {
    gpu.destroy();
  }
}

export function exportCommand(): Command {
  return new Command('export')
    .description('export a trained run as safetensors + config.json, or as ONNX')
    .argument('<run>', 'a run folder from graft train (runs/<name>), or one of its checkpoints (runs/<name>/checkpoints/best)')
    .addOption(new Option('--format <format>', 'safetensors: a folder of model.safetensors + config.json; onnx: one .onnx file').choices(['safetensors', 'onnx']).default('safetensors'))
    .option('--out <path>', 'the folder (safetensors) or file (onnx) to write; default <run>/export or <run>/model.onnx')
    .option('--json', 'print what was written as JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  graft export runs/flowers --format safetensors --out flowers-model/
  graft export runs/flowers --format onnx --out flowers.onnx
  graft export runs/flowers/checkpoints/best --format onnx --out best.onnx

The ONNX model takes 'input' [batch, 3, h, w]: the image resized and centre-cropped as the run's
preprocessing says, scaled and normalised (config.json / graft eval use the same), and gives 'logits'.`,
    )
    .action(async (target: string, flags: ExportFlags) => {
      const result = await runExport(target, flags);
      process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `wrote ${result.out} (${result.format}, ${result.classes.length} classes, input ${result.inputSize.join('x')})\n`);
    });
}
