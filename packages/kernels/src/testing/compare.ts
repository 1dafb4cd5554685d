/**
 * Tolerance checks with useful failures: |actual - expected| <= atol + rtol * |expected| per
 * element; on failure the message shows how many elements failed and the worst one with its index.
 */
export interface Tolerance {
  rtol: number;
  atol: number;
}

export function compareArrays(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: Tolerance): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} != expected ${expected.length}`;
  let failures = 0;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const allowed = tolerance.atol + tolerance.rtol * Math.abs(e);
    const error = Math.abs(a - e);
    if (!(error <= allowed)) {
      failures++;
      const excess = Number.isNaN(error) ? Infinity : error / allowed;
      if (excess > worstExcess || worst < 0) {
        worstExcess = excess;
        worst = i;
      }
    }
  }
  if (failures === 0) return null;
  return (
    `${failures}/${actual.length} elements outside atol=${tolerance.atol}, rtol=${tolerance.rtol}; ` +
    `worst at [${worst}]: got ${actual[worst]}, expected ${expected[worst]}`
  );
}

/** Throws when any element is out of tolerance. `label` names the case in the message. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: Tolerance, label = ''): void {
  const problem = compareArrays(actual, expected, tolerance);
  if (problem) throw new Error(`${label ? label + ': ' : ''}${problem}`);
}
