import { describe, expect, it } from 'vitest';
import { DeviceLimitError } from './errors.js';
import { linearWorkgroups } from './workgroups.js';

const defaultLimits = { maxComputeWorkgroupsPerDimension: 65535 };
// A limit of 5 groups per dimension makes the folded 2-D path reachable with a few hundred invocations.
const tinyLimits = { maxComputeWorkgroupsPerDimension: 5 };

/** Every linear index the WGSL recovers (gid.x + gid.y * num_workgroups.x * size) that is < invocations. */
function indicesCovered([groupsX, groupsY]: [number, number], workgroupSize: number, invocations: number): number[] {
  const seen: number[] = [];
  for (let gy = 0; gy < groupsY; gy++) {
    for (let gx = 0; gx < groupsX * workgroupSize; gx++) {
      const index = gx + gy * groupsX * workgroupSize;
      if (index < invocations) seen.push(index);
    }
  }
  return seen;
}

describe('linearWorkgroups', () => {
  it('gives one row [groups, 1] while the groups fit one dimension', () => {
    expect(linearWorkgroups(defaultLimits, 1, 64)).toEqual([1, 1]);
    expect(linearWorkgroups(defaultLimits, 64, 64)).toEqual([1, 1]);
    expect(linearWorkgroups(defaultLimits, 65, 64)).toEqual([2, 1]);
    expect(linearWorkgroups(defaultLimits, 65535 * 64, 64)).toEqual([65535, 1]);
    expect(linearWorkgroups(tinyLimits, 5 * 4, 4)).toEqual([5, 1]);
    expect(linearWorkgroups(tinyLimits, 3, 1)).toEqual([3, 1]);
  });

  it('folds into full rows past the limit', () => {
    expect(linearWorkgroups(defaultLimits, 65535 * 64 + 1, 64)).toEqual([65535, 2]);
    expect(linearWorkgroups(tinyLimits, 5 * 4 + 1, 4)).toEqual([5, 2]);
    expect(linearWorkgroups(tinyLimits, 23 * 4, 4)).toEqual([5, 5]);
  });

  it('covers every index exactly once, in one row or folded', () => {
    for (const workgroupSize of [1, 4, 64]) {
      for (let invocations = 1; invocations <= 25 * workgroupSize; invocations += workgroupSize === 64 ? 37 : 1) {
        const grid = linearWorkgroups(tinyLimits, invocations, workgroupSize);
        expect(grid[0]).toBeLessThanOrEqual(5);
        expect(grid[1]).toBeLessThanOrEqual(5);
        const seen = indicesCovered(grid, workgroupSize, invocations);
        expect(seen.length).toBe(invocations);
        expect(new Set(seen).size).toBe(invocations);
      }
    }
  });

  it('throws DeviceLimitError when even the 2-D grid cannot hold the count', () => {
    expect(() => linearWorkgroups(tinyLimits, 25 * 4 + 1, 4)).toThrow(DeviceLimitError);
    expect(() => linearWorkgroups(tinyLimits, 26, 1, 'someKernel')).toThrow(/someKernel/);
    // At the default limit, a grid whose u32 invocation index would wrap is refused too.
    expect(() => linearWorkgroups(defaultLimits, 2 ** 32 + 1, 64)).toThrow(DeviceLimitError);
  });
});
