/** `graft info`: which adapter graft runs on, and the features and limits that matter for training. */
import { createGpu, describeAdapter, type AdapterDescription } from '@graft/kernels';
import { Command } from 'commander';
import pc from 'picocolors';

export function formatAdapter(d: AdapterDescription): string {
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  const yes = (on: boolean) => (on ? pc.green('yes') : pc.yellow('no'));
  const lines = [
    `${pc.bold('adapter')}      ${d.name}${d.vendor ? ` (${d.vendor}${d.architecture ? `, ${d.architecture}` : ''})` : ''}`,
    `${pc.bold('kind')}         ${d.software ? 'software (CPU driver): expect CPU-class speed' : 'hardware GPU'}`,
    `${pc.bold('features')}     timestamp-query ${yes(d.features['timestamp-query'])}   shader-f16 ${yes(d.features['shader-f16'])}   subgroups ${yes(d.features.subgroups)}`,
    `${pc.bold('limits')}       max storage binding ${mib(d.limits.maxStorageBufferBindingSize!)}, max buffer ${mib(d.limits.maxBufferSize!)}`,
    `             workgroup storage ${(d.limits.maxComputeWorkgroupStorageSize! / 1024).toFixed(0)} KiB, ` +
      `invocations per workgroup ${d.limits.maxComputeInvocationsPerWorkgroup}, ` +
      `workgroups per dimension ${d.limits.maxComputeWorkgroupsPerDimension}, storage buffers per stage ${d.limits.maxStorageBuffersPerShaderStage}`,
  ];
  return lines.join('\n');
}

export function infoCommand(): Command {
  return new Command('info')
    .description('print the WebGPU adapter graft uses, its features and limits')
    .option('--json', 'print machine-readable JSON')
    .addHelpText('after', '\nExamples:\n  graft info\n  graft info --json\n  GRAFT_ADAPTER=software graft info   # force the lavapipe software driver')
    .action(async (options: { json?: boolean }) => {
      const gpu = await createGpu();
      try {
        const description = describeAdapter(gpu.adapter!, gpu.device);
        process.stdout.write(options.json ? `${JSON.stringify(description, null, 2)}\n` : `${formatAdapter(description)}\n`);
      } finally {
        gpu.destroy();
      }
    });
}
