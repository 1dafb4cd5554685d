/** Test settings shared by every package; each package's vitest.config.ts names itself and calls this. */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export function graftVitestConfig(packageName: string) {
  return defineConfig({
    // Workspace packages resolve to their TypeScript sources, so tests need no build.
    resolve: { conditions: ['source'] },
    ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
    test: {
      include: ['src/**/*.test.ts'],
      // One GPU device per process, and lavapipe already uses every core: test files run one at a time.
      pool: 'forks',
      poolOptions: { forks: { singleFork: true } },
      testTimeout: 60_000,
      passWithNoTests: false,
      // The JSON report feeds the one-line summary scripts/test-summary.mjs prints at the end of `npm test`.
      reporters: ['default', 'json'],
      outputFile: { json: fileURLToPath(new URL(`./.graft/test-results/${packageName}.json`, import.meta.url)) },
    },
  });
}
