import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adapterSlug, checkTargets, markdownTable, noTfjsPeer, writeAtomically, type CaseResult, type KernelReport } from './report.js';
import { summarize } from './timing.js';

function timed(kernel: string, label: string, graftMs: number, tfjsMs?: number, flops = 2 * 1024 ** 3): CaseResult {
  const gflops = flops / (graftMs * 1e6);
  return {
    kernel,
    label,
    direction: 'forward',
    file: `${kernel}.ts`,
    flops,
    bytes: 1e6,
    graft: { ...summarize('wall', [graftMs]), gflops, gbps: 1, peakFraction: gflops / 100 },
    ...(tfjsMs === undefined ? { tfjsError: noTfjsPeer } : { tfjs: summarize('wall', [tfjsMs]), ratio: tfjsMs / graftMs }),
  };
}

describe('summarize', () => {
  it('takes the median of odd and even sample counts, and the minimum', () => {
    expect(summarize('wall', [5, 1, 3])).toMatchObject({ medianMs: 3, minMs: 1 });
    expect(summarize('wall', [4, 1, 3, 10])).toMatchObject({ medianMs: 3.5, minMs: 1 });
  });
});

describe('checkTargets', () => {
  it('reports conv/depthwise/matmul/pool cases under 3x tfjs, and ignores other kernels', () => {
    const misses = checkTargets(
      [timed('conv2d', 'conv a', 10, 20), timed('depthwiseConv2d', 'dw b', 10, 40), timed('maxPool', 'pool c', 10, 29), timed('sumRows', 's', 10, 11)],
      null,
    );
    expect(misses).toHaveLength(2);
    expect(misses[0]).toContain('conv a');
    expect(misses[1]).toContain('pool c');
  });

  it('checks matmul 1024^3 against 15 GFLOP/s and half the FMA peak', () => {
    const slow = timed('matmul', 'matmul 1024x1024x1024', 2 * 1024 ** 3 / 10e6, 1e9); // 10 GFLOP/s
    expect(checkTargets([slow], 100).filter((m) => m.includes('GFLOP/s'))).toHaveLength(2);
    const fast = timed('matmul', 'matmul 1024x1024x1024', 2 * 1024 ** 3 / 60e6, 1e9); // 60 GFLOP/s
    expect(checkTargets([fast], 100)).toEqual([]);
  });

  it('counts a failed case or a missing peer as a miss, not as met', () => {
    const failed: CaseResult = { kernel: 'conv2d', label: 'conv x', direction: 'backward', file: 'conv2d.ts', flops: 1, bytes: 1, error: 'boom' };
    expect(checkTargets([failed, timed('conv2d', 'conv y', 1)], null)).toHaveLength(2);
  });
});

describe('report files', () => {
  it('slugs adapter names', () => {
    expect(adapterSlug('llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)')).toBe('llvmpipe-mesa-25-0-7-llvm-15-0-6');
    expect(adapterSlug('***')).toBe('unknown-adapter');
  });

  it('groups the table by kernel and shows failures', () => {
    const report: KernelReport = {
      date: '2026-01-01T00:00:00.000Z',
      commit: 'abc',
      adapter: { name: 'test adapter', vendor: 'v', architecture: 'a', software: true },
      node: 'v20',
      dawnToggles: [],
      quick: false,
      filter: null,
      timing: { graft: 'wall', tfjs: 'wall' },
      fmaPeak: { gflops: 100, ms: 1, iterations: 1, invocations: 1 },
      cases: [timed('matmul', 'mm', 10, 30), { kernel: 'conv2d', label: 'broken', direction: 'forward', file: 'conv2d.ts', flops: 1, bytes: 1, error: 'boom' }],
      targets: [],
    };
    const md = markdownTable(report);
    expect(md).toContain('## matmul');
    expect(md).toContain('## conv2d');
    expect(md).toMatch(/\| mm \| forward \| 10\.00 \| 214\.7 \| .* \| 30\.00 \| 3\.00x \|/);
    expect(md).toContain('| broken | forward | failed: boom |');
    expect(md).toContain('- all met');
    // Neither timed case recorded a check: both are listed as not compared.
    expect(md).toContain('Before timing, 0 of 1 timed cases matched');
    expect(md).toContain('- mm (forward): not compared');
  });

  it('lists the timed cases that were not compared with tfjs, with their reasons', () => {
    const matched = { ...timed('matmul', 'mm', 10, 30), check: 'matched tfjs (1 output, worst |diff| 1.0e-7 of max magnitude)' };
    const skipped = { ...timed('dropout', 'drop', 1, 1), check: 'not compared: random masks' };
    const md = markdownTable({
      date: '2026-01-01T00:00:00.000Z', commit: null, adapter: { name: 'a', vendor: 'v', architecture: 'a', software: true },
      node: 'v20', dawnToggles: [], quick: true, filter: null, timing: { graft: 'wall', tfjs: 'wall' }, fmaPeak: null,
      cases: [matched, skipped], targets: [],
    });
    expect(md).toContain('Before timing, 1 of 2 timed cases matched');
    expect(md).toContain('- drop (forward): random masks');
    expect(md).not.toContain('- mm (forward)');
  });

  it('writes atomically, leaving no temporary file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'graft-bench-'));
    const path = join(dir, 'nested', 'out.json');
    writeAtomically(path, '{"a":1}\n');
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n');
    expect(readdirSync(join(dir, 'nested'))).toEqual(['out.json']);
  });
});
