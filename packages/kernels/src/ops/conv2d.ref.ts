/** Plain-loop reference for conv2d (groups = 1), written from the math (not from the kernels). Works in f32 or f64. */
import type { Activation } from '../runtime/validate.js';
import { applyActivationRef } from './matmul.ref.js';

/** Every size a convolution needs, padding already resolved (see padding.ts). */
export interface Conv2dGeometry {
  n: number;
  h: number;
  w: number;
  cIn: number;
  hOut: number;
  wOut: number;
  cOut: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  padTop: number;
  padLeft: number;
}

/**
 * y[b, oy, ox, co] = act( bias[co] + sum_{ky, kx, ci} x[b, oy*sH - padTop + ky*dH, ox*sW - padLeft + kx*dW, ci] * weight[ky, kx, ci, co] )
 * with x read as 0 outside the image. x NHWC, weight HWIO, y NHWC.
 */
export function conv2dRef(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  g: Conv2dGeometry,
  activation?: Activation,
): Float64Array {
  const y = new Float64Array(g.n * g.hOut * g.wOut * g.cOut);
  for (let b = 0; b < g.n; b++) {
    for (let oy = 0; oy < g.hOut; oy++) {
      for (let ox = 0; ox < g.wOut; ox++) {
        for (let co = 0; co < g.cOut; co++) {
          let sum = bias ? bias[co]! : 0;
          for (let ky = 0; ky < g.kH; ky++) {
            const iy = oy * g.strideH - g.padTop + ky * g.dilationH;
            if (iy < 0 || iy >= g.h) continue;
            for (let kx = 0; kx < g.kW; kx++) {
              const ix = ox * g.strideW - g.padLeft + kx * g.dilationW;
              if (ix < 0 || ix >= g.w) continue;
              for (let ci = 0; ci < g.cIn; ci++) {
                sum += x[((b * g.h + iy) * g.w + ix) * g.cIn + ci]! * weight[((ky * g.kW + kx) * g.cIn + ci) * g.cOut + co]!;
              }
            }
          }
          y[((b * g.hOut + oy) * g.wOut + ox) * g.cOut + co] = applyActivationRef(sum, activation);
        }
      }
    }
  }
  return y;
}

/**
 * Gradients of the un-activated convolution given dy (an activation's derivative is its own op):
 * every product x[...] * weight[...] of the forward sum sends dy * weight to dx and dy * x to dweight.
 */
export function conv2dBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  g: Conv2dGeometry,
): { dx: Float64Array; dweight: Float64Array; dbias: Float64Array } {
  const dx = new Float64Array(g.n * g.h * g.w * g.cIn);
  const dweight = new Float64Array(g.kH * g.kW * g.cIn * g.cOut);
  const dbias = new Float64Array(g.cOut);
  for (let b = 0; b < g.n; b++) {
    for (let oy = 0; oy < g.hOut; oy++) {
      for (let ox = 0; ox < g.wOut; ox++) {
        for (let co = 0; co < g.cOut; co++) {
          const grad = dy[((b * g.hOut + oy) * g.wOut + ox) * g.cOut + co]!;
          dbias[co] += grad;
          for (let ky = 0; ky < g.kH; ky++) {
            const iy = oy * g.strideH - g.padTop + ky * g.dilationH;
            if (iy < 0 || iy >= g.h) continue;
            for (let kx = 0; kx < g.kW; kx++) {
              const ix = ox * g.strideW - g.padLeft + kx * g.dilationW;
              if (ix < 0 || ix >= g.w) continue;
              for (let ci = 0; ci < g.cIn; ci++) {
                const xIndex = ((b * g.h + iy) * g.w + ix) * g.cIn + ci;
                const wIndex = ((ky * g.kW + kx) * g.cIn + ci) * g.cOut + co;
                dx[xIndex] += grad * weight[wIndex]!;
                dweight[wIndex] += grad * x[xIndex]!;
              }
            }
          }
        }
      }
    }
  }
  return { dx, dweight, dbias };
}
