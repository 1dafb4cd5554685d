/**
 * Plain-loop reference for depthwise conv2d (channel multiplier 1), written from the math:
 *   y[b, oy, ox, c] = act( bias[c] + sum_{ky, kx} x[b, oy*s_h - pad_top + ky, ox*s_w - pad_left + kx, c] * w[ky, kx, c] )
 * with taps outside the input reading zero. x is NHWC [n, h, w, c], w is [k_h, k_w, c].
 * With scaleShift ([2, c]: row 0 scale, row 1 shift; a frozen batch norm folded to one multiply-add) the
 * output is act( sum * scale[c] + shift[c] ) instead, the bias then being absent.
 * Works on ArrayLike<number> and returns Float64Array, so tests can run it in float64.
 */
import type { Activation } from '../runtime/validate.js';
import { applyActivationRef } from './matmul.ref.js';

export interface DepthwiseDims {
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

export function depthwiseOutputSize(d: DepthwiseDims): { hOut: number; wOut: number } {
  return {
    hOut: Math.floor((d.h + d.padTop + d.padBottom - d.kH) / d.strideH) + 1,
    wOut: Math.floor((d.w + d.padLeft + d.padRight - d.kW) / d.strideW) + 1,
  };
}

/** Output NHWC [n, hOut, wOut, c]. */
export function depthwiseConv2dRef(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  d: DepthwiseDims,
  activation?: Activation,
  scaleShift?: ArrayLike<number>,
): Float64Array {
  const { hOut, wOut } = depthwiseOutputSize(d);
  const y = new Float64Array(d.n * hOut * wOut * d.c);
  for (let b = 0; b < d.n; b++) {
    for (let oy = 0; oy < hOut; oy++) {
      for (let ox = 0; ox < wOut; ox++) {
        for (let c = 0; c < d.c; c++) {
          let sum = bias ? bias[c]! : 0;
          for (let ky = 0; ky < d.kH; ky++) {
            const iy = oy * d.strideH - d.padTop + ky;
            if (iy < 0 || iy >= d.h) continue;
            for (let kx = 0; kx < d.kW; kx++) {
              const ix = ox * d.strideW - d.padLeft + kx;
              if (ix < 0 || ix >= d.w) continue;
              sum += x[((b * d.h + iy) * d.w + ix) * d.c + c]! * weight[(ky * d.kW + kx) * d.c + c]!;
            }
          }
          if (scaleShift) sum = sum * scaleShift[c]! + scaleShift[d.c + c]!;
          y[((b * hOut + oy) * wOut + ox) * d.c + c] = applyActivationRef(sum, activation);
        }
      }
    }
  }
  return y;
}

/**
 * Gradients of y = bias + depthwise(x, w) (no activation: its derivative is applied to dy first) given
 * dy [n, hOut, wOut, c]: every forward product x * w contributes dy * w to dx and dy * x to dw.
 */
export function depthwiseConv2dBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  d: DepthwiseDims,
): { dx: Float64Array; dw: Float64Array; dbias: Float64Array } {
  const { hOut, wOut } = depthwiseOutputSize(d);
  const dx = new Float64Array(d.n * d.h * d.w * d.c);
  const dw = new Float64Array(d.kH * d.kW * d.c);
  const dbias = new Float64Array(d.c);
  for (let b = 0; b < d.n; b++) {
    for (let oy = 0; oy < hOut; oy++) {
      for (let ox = 0; ox < wOut; ox++) {
        for (let c = 0; c < d.c; c++) {
          const g = dy[((b * hOut + oy) * wOut + ox) * d.c + c]!;
          dbias[c] += g;
          for (let ky = 0; ky < d.kH; ky++) {
            const iy = oy * d.strideH - d.padTop + ky;
            if (iy < 0 || iy >= d.h) continue;
            for (let kx = 0; kx < d.kW; kx++) {
              const ix = ox * d.strideW - d.padLeft + kx;
              if (ix < 0 || ix >= d.w) continue;
              const xIndex = ((b * d.h + iy) * d.w + ix) * d.c + c;
              const wIndex = (ky * d.kW + kx) * d.c + c;
              dx[xIndex] += g * weight[wIndex]!;
              dw[wIndex] += g * x[xIndex]!;
            }
          }
        }
      }
    }
  }
  return { dx, dw, dbias };
}
