/**
 * A finished (or interrupted) run folder back as a model: config.json says how to build it
 * (architecture, weights for the backbone's shape and flavour, head, classes, preprocessing), a
 * checkpoint (`final`, else `best`, else `last`) gives the weights.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gpu } from '@graft/kernels';
import { graftHead, type Preprocessing } from '@graft/models';
import { imageSpecFor, type ImageSpec } from '../data/index.js';
import { loadBackbone } from './backbones.js';
import { loadCheckpoint } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import { GraftModel } from './graftModel.js';

export class RunFolderError extends Error {
  override name = 'RunFolderError';
}

export interface OpenedRun {
  gm: GraftModel;
  config: TrainConfig & { classes: string[]; preprocessing: Preprocessing };
  classes: string[];
  preprocessing: Preprocessing;
  spec: ImageSpec;
  checkpoint: string;
}

/** Which checkpoint of a run folder to use: `final`, `best` or `last`, whichever exists first. */
export function runCheckpoint(runDir: string): string {
  for (const name of ['final', 'best', 'last']) {
    const dir = join(runDir, 'checkpoints', name);
    if (existsSync(join(dir, 'state.json')) || existsSync(join(`${dir}.old`, 'state.json'))) return dir;
  }
  throw new RunFolderError(`${runDir}: no checkpoint (expected checkpoints/final, best or last from graft train)`);
}

export async function openRun(gpu: Gpu, runDir: string, warn: (m: string) => void = () => {}): Promise<OpenedRun> {
  const configPath = join(runDir, 'config.json');
  if (!existsSync(configPath)) throw new RunFolderError(`${runDir}: not a graft run folder (no config.json)`);
  let config: OpenedRun['config'];
  try {
    config = JSON.parse(readFileSync(configPath, 'utf8')) as OpenedRun['config'];
  } catch (e) {
    throw new RunFolderError(`${configPath}: unreadable (${(e as Error).message})`);
  }
  if (!Array.isArray(config.classes) || !config.model || !config.head) throw new RunFolderError(`${configPath}: missing model, head or classes`);
  const checkpoint = runCheckpoint(runDir);
  // The backbone's shape and flavour come from the same weights it was trained from; its values from the checkpoint.
  const loaded = await loadBackbone(gpu, { model: config.model, weights: config.weights, alpha: config.alpha, warn });
  const head = graftHead(gpu, loaded.numFeatures, { hidden: config.head.hidden, dropout: config.head.dropout, activation: config.head.activation, classes: config.classes.length });
  const gm = new GraftModel(loaded, head);
  try {
    loadCheckpoint(checkpoint, gm);
  } catch (e) {
    gm.release();
    throw e;
  }
  gm.eval();
  const preprocessing = config.preprocessing ?? loaded.preprocessing;
  const spec = imageSpecFor(preprocessing, config.size);
  return { gm, config, classes: config.classes, preprocessing, spec, checkpoint };
}
