import { Command, CommanderError } from 'commander';
import { printable } from '../shared/terminal.js';
import { VERSION } from '../shared/version.js';
import { CliError } from './errors.js';

/** The `lazyaf` program with its global options (`--server`, `--token`), before any command is added. */
export function rootProgram(): Command {
  return new Command('lazyaf')
    .version(VERSION)
    .description('Run coding agents and commands on a pool of runners against an internal git server.')
    .option('--server <url>', 'lazyaf server URL (LAZYAF_SERVER, default http://localhost:8000)')
    .option('--token <token>', 'API token (LAZYAF_TOKEN; default: the admin token of a local server)')
    .showHelpAfterError()
    .exitOverride();
}

/** Parses `argv` and runs the command; every failure is one line on stderr and a non-zero exit. */
export async function runProgram(program: Command, argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    if (err instanceof CliError) {
      // Messages carry server text (a runner's error, a name that was not found): shown escaped.
      process.stderr.write(`lazyaf: ${printable(err.message)}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`lazyaf: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  }
}
