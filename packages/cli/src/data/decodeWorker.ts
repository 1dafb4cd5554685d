/** A decoding thread: receives { taskId, task }, answers { taskId, result } or { taskId, error }. */
import { parentPort } from 'node:worker_threads';
import { decodeBatch, type BatchTask } from './batch.js';

const port = parentPort;
if (!port) throw new Error('decodeWorker.ts runs as a worker thread (see pool.ts)');
port.on('message', async ({ taskId, task }: { taskId: number; task: BatchTask }) => {
  try {
    const result = await decodeBatch(task);
    port.postMessage({ taskId, result }, [result.pixels.buffer as ArrayBuffer]);
  } catch (error) {
    port.postMessage({ taskId, error: error instanceof Error ? error.message : String(error) });
  }
});
