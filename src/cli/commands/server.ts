import type { Command } from 'commander';
import { ConfigError, resolveServerConfig, type ServerFlags } from '../../server/config.js';
import { CliError } from '../errors.js';

export function registerServer(program: Command): void {
  program
    .command('server')
    .option('--host <host>', 'address to listen on (LAZYAF_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port to listen on; 0 picks a free one (LAZYAF_PORT, default 8000)')
    .option('--data <dir>', 'data directory (LAZYAF_DATA, default ~/.lazyaf)')
    .option('--runners <n>', 'desired size of the local runner pool, kept for later starts (LAZYAF_RUNNERS; default: the size it last had, else 2)')
    .option('--launcher <kind>', 'how the pool starts runners: process or docker (LAZYAF_LAUNCHER)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace (LAZYAF_LOG_LEVEL, default info)')
    .option('--log-format <format>', 'json (JSON lines) or pretty (short lines for a person) (LAZYAF_LOG_FORMAT; default: pretty on a terminal, else json)')
    .action(async (flags: ServerFlags) => {
      let config;
      try {
        config = resolveServerConfig(flags);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message);
        throw err;
      }
      // Loaded here so that client commands (and git's credential helper calls) start fast.
      const { startServer, LauncherError, DataDirInUseError } = await import('../../server/main.js');
      try {
        await startServer(config, { handleSignals: true });
      } catch (err) {
        if (err instanceof LauncherError || err instanceof DataDirInUseError) throw new CliError(err.message);
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new CliError(`port ${config.port} on ${config.host} is already in use (pass --port or set LAZYAF_PORT)`);
        if (code === 'EACCES') throw new CliError(`no permission to listen on ${config.host}:${config.port} or to use ${config.dataDir}`);
        throw err;
      }
    });
}
