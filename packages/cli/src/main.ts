/** The graft command line: one subcommand per file in commands/. */
import { Command, CommanderError } from 'commander';
import { benchCommand } from './commands/bench.js';
import { checkCommand } from './commands/check.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { exportCommand } from './commands/export.js';
import { extractCommand } from './commands/extract.js';
import { infoCommand } from './commands/info.js';
import { predictCommand } from './commands/predict.js';
import { summaryCommand } from './commands/summary.js';
import { trainCommand } from './commands/train.js';
import { exitCodes, reportError } from './errors.js';

export function buildProgram(): Command {
  const program = new Command('graft')
    .description('Transfer learning on WebGPU: pretrained backbones, new heads, fine-tuning.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.addCommand(demoCommand());
  program.addCommand(trainCommand());
  program.addCommand(extractCommand());
  program.addCommand(evalCommand());
  program.addCommand(predictCommand());
  program.addCommand(summaryCommand());
  program.addCommand(exportCommand());
  program.addCommand(infoCommand());
  program.addCommand(checkCommand());
  program.addCommand(benchCommand());
  // addCommand does not pass these settings down: every subcommand reports usage errors the same way.
  for (const command of program.commands) command.exitOverride().showHelpAfterError('(run with --help for usage)');
  return program;
}

/** Runs the CLI and returns the process exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv as string[]);
    return exitCodes.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit "successfully" through the same path as usage errors.
      return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    }
    return reportError(error);
  }
}
