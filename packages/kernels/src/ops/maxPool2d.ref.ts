/**
 * Reference max pooling over NHWC, from the definition: each output is the largest real input
 * cell in its window (padding is not a candidate), the first one in row-major window order on ties.
 */
export interface MaxPoolRefGeometry {
  n: number;
  h: number;
  w: number;
  c: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
}

export function maxPoolOutputSize(g: MaxPoolRefGeometry): [outH: number, outW: number] {
  return [Math.floor((g.h + g.padTop + g.padBottom - g.kH) / g.strideH) + 1, Math.floor((g.w + g.padLeft + g.padRight - g.kW) / g.strideW) + 1];
}

/** y and, for each output, the flat NHWC index into x of the cell that won. */
export function maxPool2dRef(x: ArrayLike<number>, g: MaxPoolRefGeometry): { y: Float64Array; winner: Int32Array } {
  const [outH, outW] = maxPoolOutputSize(g);
  const y = new Float64Array(g.n * outH * outW * g.c);
  const winner = new Int32Array(y.length).fill(-1);
  for (let b = 0; b < g.n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        for (let ch = 0; ch < g.c; ch++) {
          const o = ((b * outH + oy) * outW + ox) * g.c + ch;
          let best = -Infinity;
          for (let ky = 0; ky < g.kH; ky++) {
            for (let kx = 0; kx < g.kW; kx++) {
              const iy = oy * g.strideH - g.padTop + ky;
              const ix = ox * g.strideW - g.padLeft + kx;
              if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
              const i = ((b * g.h + iy) * g.w + ix) * g.c + ch;
              if (winner[o] === -1 || x[i]! > best) {
                best = x[i]!;
                winner[o] = i;
              }
            }
          }
          y[o] = best;
        }
      }
    }
  }
  return { y, winner };
}

/** dx[i] = sum of dy[o] over the outputs o whose window's maximum was cell i (a scatter-add). */
export function maxPool2dBackwardRef(dy: ArrayLike<number>, winner: Int32Array, xSize: number): Float64Array {
  const dx = new Float64Array(xSize);
  for (let o = 0; o < winner.length; o++) dx[winner[o]!] += dy[o]!;
  return dx;
}
