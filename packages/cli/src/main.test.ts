import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli as run } from './commands/testRun.js';


afterEach(() => vi.restoreAllMocks());

describe('graft CLI', () => {
  it('info --json describes the adapter with the features and limits that matter', async () => {
    const { code, stdout } = await run('info', '--json');
    expect(code).toBe(0);
    const info = JSON.parse(stdout);
    expect(typeof info.name).toBe('string');
    expect(typeof info.software).toBe('boolean');
    expect(Object.keys(info.features).sort()).toEqual(['shader-f16', 'subgroups', 'timestamp-query']);
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
    expect(info.limits.maxComputeWorkgroupStorageSize).toBeGreaterThan(0);
  });

  it('check runs every kernel against its reference and reports them all in agreement', async () => {
    const { code, stdout } = await run('check', '--json');
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.kernels.length).toBeGreaterThan(0);
    for (const k of report.kernels) expect(k.ok, `${k.kernel}: max error ${k.maxError}`).toBe(true);
  });

  it('exits 2 on an unknown command or option, with a hint', async () => {
    const unknown = await run('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    const badOption = await run('info', '--colour');
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/unknown option '--colour'/);
  });

  it('--help lists the commands and exits 0', async () => {
    const { code, stdout } = await run('--help');
    expect(code).toBe(0);
    for (const command of ['demo', 'train', 'info', 'check', 'bench']) expect(stdout).toContain(command);
  });
});
