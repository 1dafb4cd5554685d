/**
 * Outputs appear whole or not at all: the bytes go to a temporary file beside the target (same
 * filesystem, so the rename is atomic), then a rename puts it in place; on failure the temporary file
 * is removed and the target is untouched. The temporary name carries the process id and a random
 * suffix, so concurrent writers (parallel extraction shards, two runs) never share one.
 */
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(temp, data);
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
