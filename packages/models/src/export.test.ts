import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, tensor, type HostEntry } from '@graft/autograd';
import type { Gpu } from '@graft/kernels';
import { testGpu } from '@graft/kernels/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSafetensors, loadExported } from './export.js';
import { readSafetensors } from './importers/safetensors.js';
import { depthwiseToHwc, hwcToDepthwise, hwioToOihw, oihwToHwio } from './importers/torchLayout.js';
import { MobileNetV2 } from './mobilenetV2.js';
import { kerasMobileNet } from './preprocessing.js';

let gpu: Gpu;
let root: string;
beforeAll(async () => {
  gpu = await testGpu();
  root = mkdtempSync(join(tmpdir(), 'graft-export-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const table = [[1, 8, 1, 1], [2, 8, 2, 2]] as const;
const build = () => new MobileNetV2(gpu, { table: table.map((r) => [...r]) as never, alpha: 0.25, numClasses: 3, flavour: 'keras' });

/** Seeded non-trivial values for every tensor (running_var positive). */
function randomize(model: MobileNetV2, seed: number): void {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const state = new Map<string, HostEntry>();
  for (const [k, t] of Object.entries(model.stateDict())) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, () => (k.endsWith('running_var') ? 0.5 + rand() : k.endsWith('num_batches_tracked') ? 7 : rand() - 0.5));
    state.set(k, { data, shape: [...t.shape] });
  }
  model.loadStateDict(state);
}

describe('layout inverses', () => {
  it('hwioToOihw and hwcToDepthwise undo the importers', () => {
    const w = { data: Float32Array.from({ length: 2 * 3 * 2 * 5 }, (_, i) => i), shape: [2, 3, 2, 5] };
    expect(oihwToHwio(hwioToOihw(w))).toEqual(w);
    expect(hwioToOihw(w).shape).toEqual([5, 2, 2, 3]);
    const d = { data: Float32Array.from({ length: 3 * 3 * 4 }, (_, i) => i), shape: [3, 3, 4] };
    expect(hwcToDepthwise(d).shape).toEqual([4, 1, 3, 3]);
    expect(depthwiseToHwc(hwcToDepthwise(d))).toEqual(d);
  });
});

describe('exportSafetensors / loadExported', () => {
  it('round-trips a tiny MobileNetV2 (conv, depthwise, BN, Linear): same stateDict, same outputs, same config', async () => {
    const model = build();
    randomize(model, 3);
    model.eval();
    const dir = join(root, 'mnv2');
    const options = { architecture: 'mobilenet_v2', flavour: 'keras', classNames: ['cat', 'dog', 'eel'], preprocessing: kerasMobileNet };
    await exportSafetensors(model, dir, options);

    // torchvision layouts on disk
    const disk = readSafetensors(join(dir, 'model.safetensors'));
    expect(disk.get('features.0.0.weight')!.shape.length).toBe(4);
    expect(disk.get('features.0.0.weight')!.shape[0]).toBe(model.stateDict()['features.0.0.weight']!.shape[3]);
    expect(disk.get('features.1.conv.0.0.weight')!.shape[1]).toBe(1);
    expect(disk.get('classifier.1.weight')!.shape).toEqual(model.stateDict()['classifier.1.weight']!.shape);
    expect(disk.get('features.0.1.num_batches_tracked')!.shape).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);

    const seen: unknown[] = [];
    const { model: loaded, config } = loadExported(gpu, dir, (c) => {
      seen.push(c);
      return build();
    });
    loaded.eval();
    expect(seen).toHaveLength(1);
    expect(config).toMatchObject({ ...options, format: 'graft-export', version: 1 });
    expect(config.preprocessing).toEqual(kerasMobileNet);

    const a = model.stateDict();
    const b = loaded.stateDict();
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const k of Object.keys(a)) expect(await b[k]!.read(), k).toEqual(await a[k]!.read());

    const x = tensor(gpu, Float32Array.from({ length: 2 * 16 * 16 * 3 }, (_, i) => Math.sin(i)), [2, 16, 16, 3]);
    const ya = noGrad(() => model.forward(x));
    const yb = noGrad(() => loaded.forward(x));
    expect(ya.shape).toEqual([2, 3]);
    expect(await yb.read()).toEqual(await ya.read());
    for (const t of [x, ya, yb]) t.release();
    model.release();
    loaded.release();
  });

  it('loads strictly: a model of another shape is refused naming keys', async () => {
    const model = build();
    const dir = join(root, 'strict');
    await exportSafetensors(model, dir, { architecture: 'mobilenet_v2', flavour: 'keras', classNames: ['a', 'b', 'c'], preprocessing: kerasMobileNet });
    expect(() => loadExported(gpu, dir, () => new MobileNetV2(gpu, { table: [[1, 8, 1, 1]], alpha: 0.25, numClasses: 3, flavour: 'keras' }))).toThrow(/unexpected keys/);
    expect(() => loadExported(gpu, join(root, 'nothing-here'), build)).toThrow(/config\.json/);
    model.release();
  });

  it('an interrupted write leaves no partial or temporary file', async () => {
    const model = build();
    const dir = join(root, 'interrupted');
    mkdirSync(join(dir, 'config.json'), { recursive: true }); // the final rename of config.json fails
    mkdirSync(join(dir, 'config.json', 'x')); // non-empty, so rename over it cannot succeed
    await expect(exportSafetensors(model, dir, { architecture: 'mobilenet_v2', flavour: 'keras', classNames: [], preprocessing: kerasMobileNet })).rejects.toThrow();
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    expect(statSync(join(dir, 'config.json')).isDirectory()).toBe(true);
    // the weights that did land are complete (readable in full)
    expect(readSafetensors(join(dir, 'model.safetensors')).size).toBe(Object.keys(model.stateDict()).length);

    const dir2 = join(root, 'interrupted2');
    mkdirSync(join(dir2, 'model.safetensors', 'x'), { recursive: true }); // the weights' rename fails
    await expect(exportSafetensors(model, dir2, { architecture: 'mobilenet_v2', flavour: 'keras', classNames: [], preprocessing: kerasMobileNet })).rejects.toThrow();
    expect(readdirSync(dir2)).toEqual(['model.safetensors']);
    expect(existsSync(join(dir2, 'config.json'))).toBe(false);
    model.release();
  });
});
