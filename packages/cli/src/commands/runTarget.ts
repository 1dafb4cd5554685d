/**
 * What eval, predict and export share: a `<run|checkpoint>` argument opened as a trained model, and
 * inference over a list of images with per-image softmax probabilities.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Gpu } from '@graft/kernels';
import pc from 'picocolors';
import { createDecodePool, type Sample } from '../data/index.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { evaluate, streamedBatches, type Evaluation } from '../train/loop.js';
import { openRun, RunFolderError, type OpenedRun } from '../train/openRun.js';

export interface OpenedTarget extends OpenedRun {
  runDir: string;
}

/** A run folder (its final, best or last checkpoint) or one checkpoint folder inside a run (runs/x/checkpoints/best). */
export async function openTarget(gpu: Gpu, target: string): Promise<OpenedTarget> {
  if (!existsSync(target)) throw new RunFolderError(`'${target}' does not exist (expected a run folder from graft train, or one of its checkpoints/<name> folders)`);
  if (!statSync(target).isDirectory()) throw new RunFolderError(`'${target}' is a file, expected a run folder from graft train (or one of its checkpoints/<name> folders)`);
  const isCheckpoint = existsSync(`${target}/state.json`) && basename(dirname(resolve(target))) === 'checkpoints';
  const runDir = isCheckpoint ? dirname(dirname(resolve(target))) : target;
  // Not forwarding openRun's warnings: they are about the weights the backbone is built from (e.g.
  // "random weights" for --weights none), whose values the checkpoint then replaces.
  const opened = await openRun(gpu, runDir);
  if (isCheckpoint && resolve(opened.checkpoint) !== resolve(target)) {
    try {
      loadCheckpoint(target, opened.gm);
    } catch (e) {
      opened.gm.release();
      throw e;
    }
    opened.gm.eval();
    opened.checkpoint = target;
  }
  return { ...opened, runDir };
}

/** The model's softmax probabilities for each sample (labels pass through; samples that cannot be decoded are reported to onSkip and left out). */
export async function infer(opened: OpenedRun, samples: Sample[], options: { batchSize: number; workers?: number; onSkip: (id: string, reason: string) => void }): Promise<Evaluation> {
  const pool = createDecodePool(options.workers);
  try {
    const feed = { samples, spec: opened.spec, preprocessing: opened.preprocessing, pool, onSkip: options.onSkip };
    const evaluation = await evaluate(opened.gm, streamedBatches(opened.gm, feed, options.batchSize, 0, 0, undefined));
    evaluation.predictions.sort((a, b) => a.index - b.index);
    return evaluation;
  } finally {
    await pool.close();
  }
}

/** The k most probable classes of one prediction, most probable first. */
export function topK(probabilities: Float64Array, classes: readonly string[], k: number): { class: string; index: number; probability: number }[] {
  return Array.from(probabilities, (probability, index) => ({ class: classes[index]!, index, probability }))
    .sort((a, b) => b.probability - a.probability || a.index - b.index)
    .slice(0, k);
}

export function warnTo(stderr: NodeJS.WritableStream = process.stderr): (line: string) => void {
  return (line) => stderr.write(`${pc.yellow('graft: warning')} ${line}\n`);
}
