import { describe, expect, it } from 'vitest';
import { comparePair, compareWithPeer, defaultTolerance, firstNonFinite, type HostOutput } from './check.js';

const out = (data: number[], shape = [data.length]): HostOutput => ({ shape, data: Float32Array.from(data) });

describe('comparePair', () => {
  it('scales atol by the largest magnitude of the tfjs output', () => {
    // max |want| = 100: atol 1e-3 allows 0.1 everywhere (plus rtol * |want|).
    expect(comparePair([100, 0.09], [100, 0], defaultTolerance).ok).toBe(true);
    expect(comparePair([100, 0.11], [100, 0], defaultTolerance).ok).toBe(false);
  });

  it('names the worst element, not the first failing one', () => {
    const r = comparePair([1, 0.5, 0.2, 1], [1, 0.4, 0.0, 1], defaultTolerance);
    expect(r.ok).toBe(false);
    expect(r.worstIndex).toBe(2);
    expect(r.got).toBeCloseTo(0.2, 6);
    expect(r.want).toBe(0);
  });

  it('fails an all-zero graft output against a non-zero peer (the case check-then-time exists for)', () => {
    const want = Array.from({ length: 64 }, (_, i) => Math.sin(i + 1));
    expect(comparePair(new Float32Array(64), want, defaultTolerance).ok).toBe(false);
  });

  it('treats NaN on either side as the worst possible element', () => {
    const r = comparePair([1, NaN, 3], [1, 2, 3], defaultTolerance);
    expect(r.ok).toBe(false);
    expect(r.worstIndex).toBe(1);
    expect(r.excess).toBe(Infinity);
    expect(comparePair([1, 2], [1, NaN], defaultTolerance).ok).toBe(false);
  });

  it('accepts exact zeros against an all-zero peer, and rejects anything else there (scale 1)', () => {
    expect(comparePair([0, 0], [0, 0], defaultTolerance).ok).toBe(true);
    expect(comparePair([0, 5e-4], [0, 0], defaultTolerance).ok).toBe(true);
    expect(comparePair([0, 2e-3], [0, 0], defaultTolerance).ok).toBe(false);
  });
});

describe('compareWithPeer', () => {
  it('pairs outputs in order by default and reports the worst difference on success', () => {
    const outcome = compareWithPeer([out([1, 2]), out([3])], [out([1, 2.0001]), out([3])], undefined);
    expect(outcome.ok).toBe(true);
    if (outcome.ok) expect(outcome.summary).toMatch(/^matched tfjs \(2 outputs, worst \|diff\| 5\.0e-5/);
  });

  it('reports a mismatch with the output, index and both values', () => {
    const outcome = compareWithPeer([out([1, 2]), out([3, 4, 5], [1, 3])], [out([1, 2]), out([3, 7, 5])], undefined);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.message).toBe(
      'mismatch vs tfjs: output 1 [1, 3], worst at index 1: graft 4, tfjs 7 (|diff| 0.428571 of the max magnitude; tolerance rtol 0.001, atol 0.001)',
    );
  });

  it('compares only the mapped pairs, in the mapped order', () => {
    // graft [y, invstd] vs tfjs [variance, y]: only y corresponds.
    const graft = [out([1, 2]), out([9])];
    const peer = [out([0.25]), out([1, 2])];
    expect(compareWithPeer(graft, peer, { pairs: [[0, 1]] }).ok).toBe(true);
    expect(compareWithPeer(graft, peer, { pairs: [[1, 0]] }).ok).toBe(false);
  });

  it('requires a mapping when the output counts differ, and equal element counts within a pair', () => {
    const unmapped = compareWithPeer([out([1]), out([2])], [out([1])], undefined);
    expect(unmapped).toEqual({ ok: false, message: expect.stringContaining('graft returned 2 outputs, tfjs 1') });
    const sizes = compareWithPeer([out([1, 2, 3], [3, 1])], [out([1, 2])], undefined);
    expect(sizes).toEqual({ ok: false, message: 'output 0 [3, 1] has 3 elements, tfjs output 0 [2] has 2' });
    expect(compareWithPeer([out([1])], [out([1])], { pairs: [[0, 3]] }).ok).toBe(false);
    expect(compareWithPeer([out([1])], [out([1])], { pairs: [] }).ok).toBe(false);
  });

  it('ignores shapes when element counts agree ([3, 3, c] beside [3, 3, c, 1])', () => {
    expect(compareWithPeer([out([1, 2], [1, 2])], [out([1, 2], [1, 2, 1])], undefined).ok).toBe(true);
  });

  it('applies a case tolerance', () => {
    const graft = [out([1, 1.00005])];
    const peer = [out([1, 1])];
    expect(compareWithPeer(graft, peer, undefined).ok).toBe(true);
    expect(compareWithPeer(graft, peer, { rtol: 1e-5, atol: 1e-5 }).ok).toBe(false);
  });

  it('passes a skipped case with its reason', () => {
    expect(compareWithPeer([out([1])], [out([2])], { skip: 'random masks' })).toEqual({ ok: true, summary: 'not compared: random masks' });
  });
});

describe('firstNonFinite', () => {
  it('finds the first non-finite f32 value and skips integer outputs', () => {
    expect(firstNonFinite([out([1, 2])])).toBeNull();
    expect(firstNonFinite([out([1]), { ...out([0, Infinity], [2, 1]), dtype: 'f32' }])).toBe('output 1 [2, 1] has a non-finite value (Infinity) at index 1');
    expect(firstNonFinite([{ shape: [1], data: [NaN], dtype: 'u32' }])).toBeNull();
  });
});
