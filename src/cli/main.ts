#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { printable } from '../shared/terminal.js';
import { VERSION } from '../shared/version.js';
import { registerCredential } from './commands/credential.js';
import { registerDockerCommand } from './commands/docker-command.js';
import { registerIngest } from './commands/ingest.js';
import { registerJobs } from './commands/jobs.js';
import { registerLand } from './commands/land.js';
import { registerPool } from './commands/pool.js';
import { registerRepoCommands } from './commands/repos.js';
import { registerRunner } from './commands/runner.js';
import { registerRunners } from './commands/runners.js';
import { registerServer } from './commands/server.js';
import { CliError } from './errors.js';

const program = new Command('lazyaf')
  .version(VERSION)
  .description('Run coding agents and commands on a pool of runners against an internal git server.')
  .option('--server <url>', 'lazyaf server URL (LAZYAF_SERVER, default http://localhost:8000)')
  .option('--token <token>', 'API token (LAZYAF_TOKEN; default: the admin token of a local server)')
  .showHelpAfterError()
  .exitOverride();

registerServer(program);
registerIngest(program);
registerLand(program);
registerRepoCommands(program);
registerJobs(program);
registerRunners(program);
registerPool(program);
registerDockerCommand(program);
registerCredential(program);
registerRunner(program);

try {
  await program.parseAsync(process.argv);
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
