/** Errors of the autograd layer: each names the op or tensor and what was expected. */

export class AutogradError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AutogradError';
  }
}

/** A tensor was used after its buffer was released (explicitly, or by backward freeing its graph). */
export class ReleasedTensorError extends AutogradError {
  constructor(what: string) {
    super(`${what} was used after it was released (intermediates are freed by backward(); call retain() on a tensor you need afterwards)`);
    this.name = 'ReleasedTensorError';
  }
}
