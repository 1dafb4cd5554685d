/**
 * `graft train` through the command line: a real run on a generated folder (corrupt file included),
 * the --dry-run parameter-group table, and user mistakes as one-line errors with usage exit codes.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Gpu } from '@graft/kernels';
import { testGpu } from '@graft/kernels/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, writeCorrupt, writeImageFolder, writeTinyWeights } from './testRun.js';

let gpu: Gpu;
const { dir, cleanup } = tempDir('graft-train-cli-');
const data = join(dir, 'data');
const weights = join(dir, 'tiny.safetensors');

beforeAll(async () => {
  process.env.GRAFT_CACHE = join(dir, 'cache'); // the feature cache, kept out of the user's home
  gpu = await testGpu();
  await writeImageFolder(data, ['blue', 'green', 'red'], 6);
  writeCorrupt(join(data, 'red', 'broken.jpg'));
  await writeTinyWeights(gpu, weights);
}, 60_000);
afterAll(() => {
  delete process.env.GRAFT_CACHE;
  cleanup();
});

const tiny = ['--weights', weights, '--alpha', '0.35', '--size', '32', '--workers', '0', '--batch-size', '4'];

describe('graft train', () => {
  it('trains both phases, warns about the corrupt file by path, and prints where the run is', async () => {
    const { code, stdout, stderr } = await runCli('train', data, ...tiny, '--mode', 'finetune', '--epochs', '2', '--fine-tune-epochs', '1', '--unfreeze-last', '1', '--out', join(dir, 'runs'), '--name', 'r1', '--quiet');
    expect(code).toBe(0);
    expect(stderr).toMatch(/warning.*skipped .*broken\.jpg/);
    expect(stdout).toMatch(/done: .*runs\/r1 .*val accuracy \d+\.\d%/);
    expect(existsSync(join(dir, 'runs', 'r1', 'report.html'))).toBe(true);
  }, 60_000);

  it("phase 1 reads the on-disk feature cache filled by an earlier run (or graft extract), with the same result", async () => {
    const args = ['train', data, ...tiny, '--epochs', '2', '--out', join(dir, 'runs')];
    process.env.GRAFT_CACHE = join(dir, 'cache-fresh'); // empty: the earlier test filled the other one
    const accuracy = (stdout: string) => /val accuracy (\d+\.\d)%/.exec(stdout)?.[1];
    const first = await runCli(...args, '--name', 'cache1');
    expect(first.stderr).not.toMatch(/read from the feature cache/);
    const second = await runCli(...args, '--name', 'cache2');
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/phase 1: 1[0-9] of 1[0-9] images' features read from the feature cache/);
    expect(accuracy(second.stdout)).toBeDefined();
    expect(accuracy(second.stdout)).toBe(accuracy(first.stdout));
    const off = await runCli(...args, '--name', 'cache3', '--no-feature-cache');
    expect(off.stderr).not.toMatch(/read from the feature cache/);
  }, 60_000);

  it('--dry-run prints each phase’s parameter groups (tensors, parameters, lr, weight decay, batch norm) and trains nothing', async () => {
    const { code, stdout } = await runCli('train', data, ...tiny, '--mode', 'finetune', '--unfreeze-last', '2', '--lr', 'head=1e-3,default=1e-4', '--fine-tune-lr', 'head=1e-4,features.17=1e-5,default=1e-6', '--wd', '1e-4', '--out', join(dir, 'runs'), '--name', 'dry', '--dry-run');
    expect(code).toBe(0);
    expect(stdout).toMatch(/3 classes \(blue, green, red\)/);
    expect(stdout).toMatch(/phase 1: head on the frozen backbone/);
    expect(stdout).toMatch(/phase 2: last 2 unit\(s\) unfrozen: features\.17, features\.18/);
    expect(stdout).toMatch(/│ features\.17 │ \d+\s+│ [\d,]+\s+│ 1\.00e-5 │ 1\.00e-4\s+│ frozen/);
    expect(existsSync(join(dir, 'runs', 'dry'))).toBe(false);
  }, 60_000);

  it('user mistakes: one line, no stack trace, conventional exit codes', async () => {
    const missing = await runCli('train', join(dir, 'nope'), ...tiny);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/nope/);
    const badUnfreeze = await runCli('train', data, ...tiny, '--mode', 'finetune', '--unfreeze-last', '99', '--dry-run');
    expect(badUnfreeze.code).toBe(1);
    expect(badUnfreeze.stderr).toMatch(/--unfreeze-last must be an integer in \[0, \d+\]/);
    const badLr = await runCli('train', data, ...tiny, '--lr', 'neck=1e-3', '--dry-run');
    expect(badLr.stderr).toMatch(/--lr: unknown group 'neck'/);
    const usage = await runCli('train', data, '--epochs', 'many');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--epochs must be an integer/);
    const misfit = await runCli('train', data, '--weights', weights, '--alpha', '0.5', '--size', '32', '--dry-run');
    expect(misfit.code).toBe(1);
    expect(misfit.stderr).toMatch(/tiny\.safetensors: the weights do not fit --model mobilenet_v2 --alpha 0\.5: .*mis-shaped/);
    expect(misfit.stderr.trim().split('\n')).toHaveLength(1);
    const resume = await runCli('train', data, ...tiny, '--resume');
    expect(resume.code).toBe(2);
    expect(resume.stderr).toMatch(/--resume needs --name/);
  }, 60_000);
});
