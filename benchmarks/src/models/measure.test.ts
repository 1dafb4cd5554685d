import { describe, expect, it } from 'vitest';
import { timeAlternating } from './measure.js';

/** Fake steps that log their order; no GPU. */
function steps() {
  const calls: string[] = [];
  let g = 0;
  let p = 0;
  return {
    calls,
    graft: async () => (calls.push('g'), ++g),
    peer: async () => (calls.push('p'), ++p),
  };
}

describe('timeAlternating', () => {
  it('times each first step alone, checks them, warms up, then alternates with the order flipped every round', async () => {
    const s = steps();
    const checked: [number, number][] = [];
    const r = await timeAlternating(s.graft, s.peer, { warmup: 1, reps: 3 }, 8, (a, b) => void checked.push([a, b]));
    expect(s.calls.join('')).toBe('gp' + 'gp' + 'gp' + 'pg' + 'gp');
    expect(checked).toEqual([[1, 1]]);
    expect(r.graft.first).toBe(1);
    expect(r.graft.timing.samplesMs).toHaveLength(3);
    expect(r.peer!.timing.samplesMs).toHaveLength(3);
    expect(r.graft.timing.imagesPerSecond).toBeCloseTo((1000 * 8) / r.graft.timing.medianMs);
  });

  it('times nothing more when the check throws', async () => {
    const s = steps();
    await expect(timeAlternating(s.graft, s.peer, { warmup: 1, reps: 3 }, 1, () => { throw new Error('disagree'); })).rejects.toThrow('disagree');
    expect(s.calls.join('')).toBe('gp');
  });

  it('without a peer, times graft alone', async () => {
    const s = steps();
    const r = await timeAlternating(s.graft, null, { warmup: 0, reps: 2 }, 1);
    expect(s.calls.join('')).toBe('ggg');
    expect(r.peer).toBeNull();
  });
});
