/**
 * Check, then time (llm.c's habit): before a case is timed, graft runs once and its tfjs peer runs
 * once on the same inputs, both results are read back, and corresponding outputs are compared
 * element by element. A kernel that writes zeros, skips its bias or scrambles its layout fails here
 * instead of being timed and reported.
 *
 * Tolerance: element i passes when |graft_i - tfjs_i| <= atol * scale + rtol * |tfjs_i|, where
 * scale is the largest magnitude in that tfjs output (1 when it is all zeros). Default 1e-3 for
 * both. Why: the two sides are both f32 but sum in different orders (tiles, chunked reductions),
 * so a K-term sum may differ by ~sqrt(K) * 2^-24 of its terms' magnitude when rounding is random
 * and ~K * 2^-24 ~ 1.5e-3 at worst for the longest sums here (conv dW and BN sums over
 * N*H*W = 25,088 rows); measured on lavapipe, the differences stay at or below ~1e-6 of the
 * output's largest value (BN, sumRows, 1x1 conv dW). 1e-3 of the largest value covers the random-
 * rounding bound with margin on other adapters, while a real fault (zeros, a wrong element, a
 * missing bias) misses by orders of magnitude more. rtol adds room on large elements for
 * transcendentals (exp, log), whose f32 implementations differ by a few ulps between backends.
 */
import type { PeerCheck } from './case.js';

export const defaultTolerance = { rtol: 1e-3, atol: 1e-3 } as const;

/** One output read back to the host. */
export interface HostOutput {
  shape: readonly number[];
  data: ArrayLike<number>;
}

export type CheckOutcome =
  | { ok: true; /** e.g. 'matched tfjs (2 outputs, worst |diff| 3.1e-6 of max magnitude)' or 'not compared: ...' */ summary: string }
  | { ok: false; message: string };

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const num = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(6)).toString() : String(x));

/** The first non-finite f32 value among the outputs, as a message; null when all are finite. */
export function firstNonFinite(outputs: readonly (HostOutput & { dtype?: string })[]): string | null {
  for (const [i, t] of outputs.entries()) {
    if (t.dtype !== undefined && t.dtype !== 'f32') continue; // integer outputs (indices, labels) are finite by construction
    for (let e = 0; e < t.data.length; e++) {
      const v = t.data[e]!;
      if (!Number.isFinite(v)) return `output ${i} ${shapeText(t.shape)} has a non-finite value (${v}) at index ${e}`;
    }
  }
  return null;
}

export interface PairResult {
  ok: boolean;
  /** Element with the largest |diff| / allowed (-1 for empty outputs). */
  worstIndex: number;
  got: number;
  want: number;
  /** |got - want| / scale at the worst element: the error relative to the output's max magnitude. */
  relativeToMax: number;
  /** |got - want| / allowed at the worst element: <= 1 passes. */
  excess: number;
}

/** Compares one graft output with its tfjs counterpart (equal lengths assumed). */
export function comparePair(got: ArrayLike<number>, want: ArrayLike<number>, tol: { rtol: number; atol: number }): PairResult {
  let maxAbs = 0;
  for (let e = 0; e < want.length; e++) maxAbs = Math.max(maxAbs, Math.abs(want[e]!));
  const scale = maxAbs > 0 && Number.isFinite(maxAbs) ? maxAbs : 1;
  const result: PairResult = { ok: true, worstIndex: -1, got: NaN, want: NaN, relativeToMax: 0, excess: 0 };
  for (let e = 0; e < want.length; e++) {
    const g = got[e]!;
    const w = want[e]!;
    const diff = Math.abs(g - w);
    const allowed = tol.atol * scale + tol.rtol * Math.abs(w);
    // NaN anywhere makes the element infinitely bad, so it is never passed over; 0 / 0 (exact match
    // of a zero with nothing allowed) is a pass.
    const excess = Number.isNaN(diff) || Number.isNaN(allowed) ? Infinity : diff === 0 ? 0 : diff / allowed;
    if (result.worstIndex < 0 || excess > result.excess) {
      Object.assign(result, { worstIndex: e, got: g, want: w, relativeToMax: diff / scale, excess });
    }
  }
  result.ok = !(result.excess > 1);
  return result;
}

/**
 * graft's outputs against tfjs's, pairwise in order unless the case maps them (`pairs`). A case
 * that opts out (`{ skip }`) passes with its reason as the summary.
 */
export function compareWithPeer(graft: readonly HostOutput[], peer: readonly HostOutput[], check: PeerCheck | undefined): CheckOutcome {
  if (check && 'skip' in check) return { ok: true, summary: `not compared: ${check.skip}` };
  const tol = { rtol: check?.rtol ?? defaultTolerance.rtol, atol: check?.atol ?? defaultTolerance.atol };
  let pairs = check?.pairs;
  if (!pairs) {
    if (graft.length !== peer.length) {
      return { ok: false, message: `graft returned ${graft.length} outputs, tfjs ${peer.length}: the case needs checkAgainstPeer.pairs` };
    }
    pairs = graft.map((_, i) => [i, i] as const);
  }
  if (pairs.length === 0) return { ok: false, message: 'checkAgainstPeer.pairs is empty: nothing would be compared (use skip with a reason)' };
  let worst = 0;
  for (const [gi, ti] of pairs) {
    const g = graft[gi];
    const t = peer[ti];
    if (!g || !t) return { ok: false, message: `checkAgainstPeer pair [${gi}, ${ti}] names a missing output (graft has ${graft.length}, tfjs ${peer.length})` };
    const name = `output ${gi} ${shapeText(g.shape)}`;
    if (g.data.length !== t.data.length) {
      return { ok: false, message: `${name} has ${g.data.length} elements, tfjs output ${ti} ${shapeText(t.shape)} has ${t.data.length}` };
    }
    const r = comparePair(g.data, t.data, tol);
    if (!r.ok) {
      return {
        ok: false,
        message: `mismatch vs tfjs: ${name}, worst at index ${r.worstIndex}: graft ${num(r.got)}, tfjs ${num(r.want)} ` +
          `(|diff| ${num(r.relativeToMax)} of the max magnitude; tolerance rtol ${tol.rtol}, atol ${tol.atol})`,
      };
    }
    worst = Math.max(worst, r.relativeToMax);
  }
  return { ok: true, summary: `matched tfjs (${pairs.length} output${pairs.length > 1 ? 's' : ''}, worst |diff| ${worst.toExponential(1)} of max magnitude)` };
}
