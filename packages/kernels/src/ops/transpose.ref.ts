/** Plain-loop reference for transpose, written from the math: y[c, r] = x[r, c]. */
export function transposeRef(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) y[c * rows + r] = x[r * cols + c]!;
  }
  return y;
}
