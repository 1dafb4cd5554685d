/** Reference for sumRows: out[c] = scale * sum_r x[r, c]. */
export function sumRowsRef(x: ArrayLike<number>, rows: number, cols: number, scale = 1): Float64Array {
  const out = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] += x[r * cols + c]!;
  for (let c = 0; c < cols; c++) out[c] *= scale;
  return out;
}
