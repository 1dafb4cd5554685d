/**
 * Finite-difference gradients in float64 on a reference forward. For an op y = f(x) and a fixed
 * upstream gradient g, the scalar L(x) = sum_i g_i * f(x)_i has dL/dx = the op's vector-Jacobian
 * product, which is what every backward kernel computes.
 */

/** Central differences of L(x) = sum(upstream * forward(x)) with respect to every element of x. */
export function numericGradient(
  forward: (x: Float64Array) => ArrayLike<number>,
  x: ArrayLike<number>,
  upstream: ArrayLike<number>,
  epsilon = 1e-6,
): Float64Array {
  const point = Float64Array.from(x);
  const grad = new Float64Array(point.length);
  const loss = () => {
    const y = forward(point);
    let sum = 0;
    for (let i = 0; i < y.length; i++) sum += upstream[i]! * y[i]!;
    return sum;
  };
  for (let i = 0; i < point.length; i++) {
    const saved = point[i]!;
    point[i] = saved + epsilon;
    const plus = loss();
    point[i] = saved - epsilon;
    const minus = loss();
    point[i] = saved;
    grad[i] = (plus - minus) / (2 * epsilon);
  }
  return grad;
}

/** Tolerance for comparing an analytic f64 gradient with central differences at epsilon = 1e-6. */
export const finiteDifferenceTolerance = { rtol: 1e-5, atol: 1e-6 };
