/**
 * `graft bench`: runs the benchmark suites in benchmarks/. The benchmarks package may import every
 * package and none may import it, so the CLI starts it as a separate process from the checkout.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';

function benchmarksDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = join(here, '..', '..', '..', '..', 'benchmarks');
  if (!existsSync(join(dir, 'src', 'run.ts'))) {
    throw new Error(`graft bench needs a graft checkout: benchmarks/src/run.ts not found at ${dir}`);
  }
  return dir;
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('run the benchmarks: kernels, or whole models (--models), graft vs TensorFlow.js WebGPU on the same adapter')
    .option('--models', 'the model suite: MobileNetV2 and ResNet-50 inference and training steps, memory, time to first step')
    .option('--filter <regex>', 'only cases whose kernel or label matches')
    .option('--quick', 'fewer repetitions (a smoke check, not a measurement)')
    .option('--out <dir>', 'where results are written (default benchmarks/results)')
    .addHelpText('after', '\nExamples:\n  graft bench\n  graft bench --filter conv2d\n  graft bench --quick\n  graft bench --models --quick            # ~10 minutes on a software adapter')
    .action(async (options: { filter?: string; quick?: boolean; out?: string; models?: boolean }) => {
      const dir = benchmarksDir();
      // Case files are TypeScript loaded at run time; the 'source' condition resolves workspace packages to src/.
      const args = ['--conditions=source', '--import', 'tsx', join(dir, 'src', options.models ? 'runModels.ts' : 'run.ts')];
      if (options.filter) args.push('--filter', options.filter);
      if (options.quick) args.push('--quick');
      if (options.out) args.push('--out', options.out);
      const code = await new Promise<number>((resolve) => {
        const child = spawn(process.execPath, args, { cwd: dir, stdio: 'inherit' });
        child.on('close', (status) => resolve(status ?? 1));
      });
      if (code !== 0) throw new Error(`benchmarks exited with code ${code}`);
    });
}
