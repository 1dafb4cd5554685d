/**
 * Checkpoints: a folder per checkpoint (`last`, `best`) holding
 *   model.safetensors      the whole model (backbone.* + head.*) in PyTorch layouts,
 *   optimizer.safetensors  the optimizer's state buffers (`<tensor index>.<state name>`),
 *   state.json             the run's position: phase, epoch, optimizer hyperparameters and steps,
 *                          scheduler step, best score, patience, dropout seeds, the run config.
 * Written into a temporary folder, then swapped in by renames, so a crash at any moment leaves either
 * the previous checkpoint or the new one, never a mix: the previous one is moved aside before the new
 * one takes its name and removed after; a reader that finds only the moved-aside copy uses it.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dropout, type HostEntry, type OptimizerStateDict, type SchedulerState } from '@graft/autograd';
import { loadTorchStateDict, readSafetensors, torchStateDict, writeSafetensors } from '@graft/models';
import type { GraftModel } from './graftModel.js';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export interface RunPosition {
  /** 1 = head only, 2 = fine-tuning. */
  phase: 1 | 2;
  /** Epochs completed, counted across phases (1-based in records). */
  epoch: number;
  /** Epochs completed within the phase. */
  phaseEpoch: number;
  bestScore: number;
  bestEpoch: number;
  /** Epochs since the best, for early stopping. */
  stale: number;
  scheduler?: SchedulerState;
  /** Each Dropout's seed counter, by module name, so a resumed run draws the same masks. */
  dropoutSeeds: Record<string, number>;
}

export interface CheckpointState {
  format: 'graft-checkpoint';
  version: 1;
  /** What built the model (architecture, weights, head, classes): checked on resume. */
  config: Record<string, unknown>;
  position: RunPosition;
  optimizer?: Omit<OptimizerStateDict, 'state'> & { steps: Record<number, number> };
}

const stateFile = 'state.json';
const modelFile = 'model.safetensors';
const optimizerFile = 'optimizer.safetensors';

export function dropoutSeeds(gm: GraftModel): Record<string, number> {
  const seeds: Record<string, number> = {};
  for (const [name, m] of gm.model.namedModules()) if (m instanceof Dropout) seeds[name] = m.seed;
  return seeds;
}

function restoreDropoutSeeds(gm: GraftModel, seeds: Record<string, number>): void {
  for (const [name, m] of gm.model.namedModules()) if (m instanceof Dropout && seeds[name] !== undefined) m.seed = seeds[name];
}

/** Writes a checkpoint folder atomically (see the file comment). */
export async function saveCheckpoint(dir: string, gm: GraftModel, state: CheckpointState, optimizer?: OptimizerStateDict): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  const aside = `${dir}.old`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    writeSafetensors(join(tmp, modelFile), await torchStateDict(gm.model));
    let saved = state;
    if (optimizer) {
      const buffers = new Map<string, HostEntry>();
      const steps: Record<number, number> = {};
      for (const [index, entry] of Object.entries(optimizer.state)) {
        steps[Number(index)] = entry.step;
        for (const [name, buffer] of Object.entries(entry.buffers)) buffers.set(`${index}.${name}`, buffer);
      }
      writeSafetensors(join(tmp, optimizerFile), buffers);
      saved = { ...state, optimizer: { paramGroups: optimizer.paramGroups, steps } };
    }
    writeFileSync(join(tmp, stateFile), `${JSON.stringify(saved, null, 2)}\n`);
    rmSync(aside, { recursive: true, force: true });
    if (existsSync(dir)) renameSync(dir, aside);
    renameSync(tmp, dir);
    rmSync(aside, { recursive: true, force: true });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw new CheckpointError(`${dir}: cannot write the checkpoint (${(e as Error).message})`);
  }
}

/** The folder to read: `dir`, or its moved-aside copy when a crash interrupted a save. */
function readable(dir: string): string {
  if (existsSync(join(dir, stateFile))) return dir;
  if (existsSync(join(`${dir}.old`, stateFile))) return `${dir}.old`;
  throw new CheckpointError(`${dir}: no checkpoint here (no ${stateFile})`);
}

export function readCheckpointState(dir: string): CheckpointState {
  const from = readable(dir);
  let state: CheckpointState;
  try {
    state = JSON.parse(readFileSync(join(from, stateFile), 'utf8')) as CheckpointState;
  } catch (e) {
    throw new CheckpointError(`${join(from, stateFile)}: unreadable (${(e as Error).message})`);
  }
  if (state?.format !== 'graft-checkpoint' || state.version !== 1) throw new CheckpointError(`${join(from, stateFile)}: not a graft checkpoint (format ${JSON.stringify(state?.format)})`);
  return state;
}

/** Loads the model weights (strict) and dropout seeds; returns the optimizer state to restore, if any. */
export function loadCheckpoint(dir: string, gm: GraftModel): { state: CheckpointState; optimizer?: OptimizerStateDict } {
  const from = readable(dir);
  const state = readCheckpointState(dir);
  try {
    loadTorchStateDict(gm.model, readSafetensors(join(from, modelFile)));
  } catch (e) {
    throw new CheckpointError(`${from}: the checkpoint does not fit this model: ${(e as Error).message.split('\n').slice(0, 4).join(' ')}`);
  }
  restoreDropoutSeeds(gm, state.position.dropoutSeeds);
  if (!state.optimizer) return { state };
  const buffers = existsSync(join(from, optimizerFile)) ? readSafetensors(join(from, optimizerFile)) : new Map<string, HostEntry>();
  const optimizerState: OptimizerStateDict['state'] = {};
  for (const [index, step] of Object.entries(state.optimizer.steps)) optimizerState[Number(index)] = { step, buffers: {} };
  for (const [key, entry] of buffers) {
    const dot = key.indexOf('.');
    const index = Number(key.slice(0, dot));
    (optimizerState[index] ??= { step: 0, buffers: {} }).buffers[key.slice(dot + 1)] = { data: entry.data, shape: entry.shape };
  }
  return { state, optimizer: { state: optimizerState, paramGroups: state.optimizer.paramGroups } };
}
