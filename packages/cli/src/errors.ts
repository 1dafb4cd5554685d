/** Conventional exit codes and one place that turns errors into a message on stderr. */
import pc from 'picocolors';

export const exitCodes = { ok: 0, failure: 1, usage: 2 } as const;

export function reportError(error: unknown): number {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`${pc.red('graft: error')} ${message}\n`);
  if (process.env.GRAFT_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return exitCodes.failure;
}
