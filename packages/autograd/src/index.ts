export { Tensor } from './tensor.js';
export { backward, isGradEnabled, noGrad, record, releaseGraph, type BackwardFn, type Node } from './tape.js';
export { fromGpu, tensor, type TensorOptions } from './create.js';
export { AutogradError, ReleasedTensorError } from './errors.js';
export { gradcheck, DEFAULT_TOLERANCE, type GradcheckInput, type GradcheckResult } from './gradcheck.js';
export * from './ops/index.js';
export * from './nn/index.js';
export * from './metrics.js';
export * from './optim/index.js';
