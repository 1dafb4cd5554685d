/** Reference for global average pooling over NHWC, from the definition of a mean. */

export function globalAvgPoolRef(x: ArrayLike<number>, n: number, h: number, w: number, c: number): Float64Array {
  const y = new Float64Array(n * c);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      let sum = 0;
      for (let row = 0; row < h; row++) for (let col = 0; col < w; col++) sum += x[((b * h + row) * w + col) * c + ch]!;
      y[b * c + ch] = sum / (h * w);
    }
  }
  return y;
}

/** Each input contributes 1/(h w) to its channel's mean: dx = dy / (h w) at every position. */
export function globalAvgPoolBackwardRef(dy: ArrayLike<number>, n: number, h: number, w: number, c: number): Float64Array {
  const dx = new Float64Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let row = 0; row < h; row++) {
      for (let col = 0; col < w; col++) {
        for (let ch = 0; ch < c; ch++) dx[((b * h + row) * w + col) * c + ch] = dy[b * c + ch]! / (h * w);
      }
    }
  }
  return dx;
}
