/**
 * Progress for long steps: a cli-progress bar (ETA, img/s, running loss and accuracy) on a terminal;
 * on anything else (CI logs, pipes, --quiet) nothing per batch, and the caller's one line per epoch.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  start(total: number, label: string): void;
  update(done: number, values?: { loss?: number; accuracy?: number }): void;
  stop(): void;
}

export interface ProgressOptions {
  /** Draw bars (default: stderr is a terminal). */
  enabled?: boolean;
}

const silent: Progress = { start() {}, update() {}, stop() {} };

export function createProgress(options: ProgressOptions = {}): Progress {
  const enabled = options.enabled ?? Boolean(process.stderr.isTTY);
  if (!enabled) return silent;
  let bar: cliProgress.SingleBar | undefined;
  let started = 0;
  return {
    start(total, label) {
      bar?.stop();
      started = performance.now();
      bar = new cliProgress.SingleBar(
        {
          format: `${label.padEnd(14)} {bar} {value}/{total} img | {rate} img/s | ETA {eta_formatted} | {metrics}`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { rate: '-', metrics: '' });
    },
    update(done, values = {}) {
      const seconds = (performance.now() - started) / 1000;
      const metrics = [values.loss !== undefined ? `loss ${values.loss.toFixed(4)}` : '', values.accuracy !== undefined ? `acc ${(100 * values.accuracy).toFixed(1)}%` : ''].filter(Boolean).join(' ');
      bar?.update(done, { rate: seconds > 0 ? (done / seconds).toFixed(1) : '-', metrics });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
