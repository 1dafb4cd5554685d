/**
 * `graft check`: shows the adapter, then runs every kernel once on the GPU against its plain-loop
 * reference: a quick way to see that a new adapter or driver computes what graft expects.
 */
import { createGpu, describeAdapter, runKernelSmoke } from '@graft/kernels';
import Table from 'cli-table3';
import { Command } from 'commander';
import pc from 'picocolors';
import { formatAdapter } from './info.js';

export function checkCommand(): Command {
  return new Command('check')
    .description('show the adapter and check every kernel against its reference on it')
    .option('--json', 'print machine-readable JSON')
    .addHelpText('after', '\nExamples:\n  graft check\n  graft check --json')
    .action(async (options: { json?: boolean }) => {
      const started = performance.now();
      const gpu = await createGpu();
      try {
        const adapter = describeAdapter(gpu.adapter!, gpu.device);
        if (!options.json) process.stdout.write(`${formatAdapter(adapter)}\n\nChecking every kernel against its reference on this adapter:\n`);
        const results = await runKernelSmoke(gpu, (r) => {
          if (!options.json) process.stdout.write(`  ${r.ok ? pc.green('ok  ') : pc.red('FAIL')} ${r.kernel}\n`);
        });
        const failed = results.filter((r) => !r.ok);
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ adapter, kernels: results }, null, 2)}\n`);
        } else {
          const table = new Table({ head: ['kernel', 'shape', 'max |error|', 'tolerance', ''], style: { head: [], border: [] } });
          for (const r of results) table.push([r.kernel, r.shape, r.maxError.toExponential(2), r.tolerance.toExponential(0), r.ok ? 'ok' : 'FAIL']);
          process.stdout.write(`\n${table.toString()}\n`);
          const seconds = ((performance.now() - started) / 1000).toFixed(1);
          process.stdout.write(`${results.length - failed.length}/${results.length} kernel checks match their references (${seconds} s)\n`);
        }
        if (failed.length > 0) throw new Error(`${failed.length} kernel(s) disagree with their reference: ${failed.map((f) => f.kernel).join(', ')}`);
      } finally {
        gpu.destroy();
      }
    });
}
