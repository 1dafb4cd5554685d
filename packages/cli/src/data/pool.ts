/**
 * Threads that decode batches, each running decodeWorker's loop over batch.ts' decodeBatch: the same
 * code as the in-thread mode (workers: 0), so both give the same bytes.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { decodeBatch, type BatchResult, type BatchTask } from './batch.js';

export interface DecodePool {
  /** Worker threads; 0 decodes in the calling thread. */
  readonly size: number;
  run(task: BatchTask): Promise<BatchResult>;
  /** Terminates the threads; pending tasks reject. */
  close(): Promise<void>;
}

/** Two threads at most by default: sharp already spreads each image over libvips' own threads. */
export function defaultWorkerCount(): number {
  return Math.min(2, availableParallelism());
}

export function createDecodePool(workers: number = defaultWorkerCount()): DecodePool {
  if (!(Number.isInteger(workers) && workers >= 0)) throw new Error(`workers must be a whole number >= 0, got ${workers}`);
  return workers === 0 ? { size: 0, run: decodeBatch, close: async () => {} } : new WorkerPool(workers);
}

interface Pending {
  resolve: (result: BatchResult) => void;
  reject: (error: Error) => void;
  worker: Worker;
}

class WorkerPool implements DecodePool {
  private readonly workers: Worker[];
  private readonly outstanding = new Map<Worker, number>();
  private readonly pending = new Map<number, Pending>();
  private nextTaskId = 0;
  private closed = false;

  constructor(readonly size: number) {
    const { entry, eval: isCode } = workerEntry();
    this.workers = Array.from({ length: size }, () => {
      const worker = new Worker(entry, { eval: isCode });
      worker.unref(); // an idle pool must not keep the process alive; ref'd while it has work
      this.outstanding.set(worker, 0);
      worker.on('message', (message: { taskId: number; result?: BatchResult; error?: string }) => this.settle(message));
      worker.on('error', (error) => this.fail(worker, error));
      worker.on('exit', (code) => this.fail(worker, new Error(`decoding thread exited with code ${code}`)));
      return worker;
    });
  }

  run(task: BatchTask): Promise<BatchResult> {
    if (this.closed) return Promise.reject(new Error('the decode pool is closed'));
    const worker = this.workers.reduce((a, b) => (this.outstanding.get(b)! < this.outstanding.get(a)! ? b : a));
    if (this.outstanding.get(worker) === Infinity) return Promise.reject(new Error('every decoding thread has failed'));
    const taskId = this.nextTaskId++;
    this.track(worker, +1);
    return new Promise((resolve, reject) => {
      this.pending.set(taskId, { resolve, reject, worker });
      worker.postMessage({ taskId, task });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    for (const [taskId, p] of this.pending) {
      this.pending.delete(taskId);
      p.reject(new Error('the decode pool was closed'));
    }
  }

  private settle({ taskId, result, error }: { taskId: number; result?: BatchResult; error?: string }): void {
    const p = this.pending.get(taskId);
    if (!p) return;
    this.pending.delete(taskId);
    this.track(p.worker, -1);
    if (result) p.resolve(result);
    else p.reject(new Error(`decoding thread failed: ${error}`));
  }

  private fail(worker: Worker, error: Error): void {
    if (this.closed) return;
    for (const [taskId, p] of this.pending) {
      if (p.worker !== worker) continue;
      this.pending.delete(taskId);
      p.reject(error);
    }
    this.outstanding.set(worker, Infinity); // never picked again
  }

  private track(worker: Worker, delta: number): void {
    const n = this.outstanding.get(worker)! + delta;
    this.outstanding.set(worker, n);
    if (n > 0) worker.ref();
    else worker.unref();
  }
}

/**
 * How to start a decoding thread. Built: decodeWorker.js beside this file. From TypeScript sources,
 * tsx loads decodeWorker.ts; on Node 20 tsx's --import hooks do not reach worker threads, so a
 * two-line bootstrap imports the worker through tsx's tsImport instead.
 */
function workerEntry(): { entry: URL | string; eval: boolean } {
  if (!import.meta.url.endsWith('.ts')) return { entry: new URL('./decodeWorker.js', import.meta.url), eval: false };
  let api: string;
  try {
    // The ESM build of tsx/esm/api (require.resolve would give the CommonJS one).
    const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
    const exports = JSON.parse(readFileSync(manifest, 'utf8')).exports as Record<string, { import: { default: string } }>;
    api = new URL(exports['./esm/api']!.import.default, pathToFileURL(manifest)).href;
  } catch {
    throw new Error('decoding threads from TypeScript sources need tsx (a dev dependency of the repository); build graft or use workers: 0');
  }
  const worker = new URL('./decodeWorker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(api)}).then((api) => api.tsImport(${JSON.stringify(worker)}, ${JSON.stringify(import.meta.url)}));`;
  return { entry: code, eval: true };
}
