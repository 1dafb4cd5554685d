import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from './testRun.js';

afterEach(() => vi.restoreAllMocks());

describe('graft summary', () => {
  it('--json: the backbone alone, every parameter trainable, counts adding up', async () => {
    const { code, stdout } = await runCli('summary', '--alpha', '0.35', '--size', '32', '--json');
    expect(code).toBe(0);
    const s = JSON.parse(stdout);
    expect(s).toMatchObject({ model: 'mobilenet_v2', flavour: 'torchvision', inputShape: [1, 32, 32, 3], features: 1280 });
    expect(s.rows[0]).toMatchObject({ path: '', type: 'MobileNetV2', outputShape: [1, 1280] });
    expect(s.rows.reduce((sum: number, r: { params: number }) => sum + r.params, 0)).toBe(s.totalParams);
    expect(s.trainableParams + s.nonTrainableParams).toBe(s.totalParams);
    expect(s.rows.filter((r: { status: string }) => r.status === 'frozen')).toEqual([]);
  });

  it('--classes 3: a head on the frozen backbone; only the head trains', async () => {
    const { code, stdout } = await runCli('summary', '--alpha', '0.35', '--size', '32', '--classes', '3', '--head', '16', '--json');
    expect(code).toBe(0);
    const s = JSON.parse(stdout);
    expect(s.rows[0]).toMatchObject({ type: 'WithHead', outputShape: [1, 3] });
    // Linear(1280, 16) + Linear(16, 3), weights and biases.
    expect(s.trainableParams).toBe(1280 * 16 + 16 + 16 * 3 + 3);
    expect(s.rows.filter((r: { path: string; status: string }) => r.path.startsWith('backbone.') && r.status === 'trainable')).toEqual([]);
  });

  it('prints the Keras-like table, and exits 2 on an unknown model', async () => {
    const { code, stdout } = await runCli('summary', '--alpha', '0.35', '--size', '32', '--classes', '2');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^mobilenet_v2 \(torchvision, alpha 0\.35\), input \[1, 32, 32, 3\], 1280 features, head -> 2 classes/);
    expect(stdout).toMatch(/Layer\s+Type\s+Output shape\s+Params\s+Trainable/);
    expect(stdout).toMatch(/Trainable params: 2,562/);
    expect((await runCli('summary', '--model', 'alexnet')).code).toBe(2);
    expect((await runCli('summary', '--help')).stdout).toContain('Examples:');
  });
});
