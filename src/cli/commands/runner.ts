import { Option, type Command } from 'commander';
import { RegistrationRefusedError, ProtocolError } from '../../runner/client.js';
import { resolveRunnerConfig, RunnerConfigError, type RunnerFlags } from '../../runner/options.js';
import { startRunner } from '../../runner/runner.js';
import { SandboxUnavailableError } from '../../runner/wall.js';
import { CliError } from '../errors.js';

export function registerRunner(program: Command): void {
  program
    .command('runner')
    .option('--name <name>', 'runner name (default: <hostname>-<4 hex>)')
    .option('--labels <a,b>', 'labels jobs can require, comma-separated')
    .option('--workdir <dir>', 'folder for the repo caches and job files (default: <tmp>/lazyaf-runner-<name>)')
    .option(
      '--sandbox <mode>',
      "run each job in a bubblewrap sandbox: auto (where bwrap works), require, off; container: the runner's own container is the wall (LAZYAF_SANDBOX; default auto)",
    )
    .option('--no-sandbox', 'run jobs without a sandbox: a job can read everything this runner can')
    .option('--sandbox-share <paths>', 'extra absolute paths a sandboxed job may read and write, comma-separated (LAZYAF_SANDBOX_SHARE)')
    .option(
      '--agents <a,b>',
      'the named agents this runner can run, comma-separated, instead of those found on its PATH (claude, gemini, codex, aider) (LAZYAF_AGENTS)',
    )
    .option('--ephemeral', 'take one job, report it, deregister and exit 0 (LAZYAF_EPHEMERAL=1)')
    .addOption(new Option('--pool-id <id>', 'set by the pool launcher (LAZYAF_POOL_ID)').hideHelp())
    .addHelpText(
      'after',
      [
        '',
        'Server and token: --server URL (LAZYAF_SERVER) and --token (LAZYAF_TOKEN); for a runner the token is',
        'the registration token (<data dir>/registration_token), not the admin token.',
        'SIGTERM or Ctrl-C: finish the current job, take no new one, leave. A second one: give the job back and leave.',
        '',
      ].join('\n'),
    )
    .action(async (opts: RunnerFlags, cmd: Command) => {
      const globals = cmd.optsWithGlobals<RunnerFlags>();
      let config;
      try {
        config = resolveRunnerConfig({ ...opts, server: globals.server, token: globals.token });
      } catch (err) {
        if (err instanceof RunnerConfigError) throw new CliError(err.message);
        throw err;
      }
      // argv is world-readable (/proc/<pid>/cmdline, ps): say so, the runner keeps this token for its whole life.
      if (globals.token !== undefined)
        process.stderr.write('lazyaf runner: warning: --token is visible to every user of this machine in the process list; prefer LAZYAF_TOKEN\n');
      const runner = startRunner(config);
      // First SIGTERM or SIGINT: drain. Second: give the job back and leave.
      let signals = 0;
      const onSignal = () => {
        signals++;
        if (signals === 1) runner.drain();
        else void runner.stop();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      // A pool runner whose server died (it was re-parented) leaves: the restarted server starts its own.
      const parent = process.ppid;
      const orphanWatch = config.poolId
        ? setInterval(() => {
            if (process.ppid !== parent) void runner.stop();
          }, 2000).unref()
        : undefined;
      try {
        await runner.done;
      } catch (err) {
        if (err instanceof SandboxUnavailableError) throw new CliError(err.message);
        if (err instanceof RegistrationRefusedError) throw new CliError(`${err.message}; pass the registration token with --token or LAZYAF_TOKEN`);
        if (err instanceof ProtocolError)
          throw new CliError(err.status === 404 ? `${config.server} does not serve the runner protocol (is it a lazyaf server?)` : err.message);
        throw err;
      } finally {
        clearInterval(orphanWatch);
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
    });
}
