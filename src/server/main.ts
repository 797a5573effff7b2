import { VERSION } from '../shared/version.js';
import { logActivity } from './activity.js';
import { buildApp } from './app.js';
import { shortCredentialWarnings } from './agent-credentials.js';
import type { ServerConfig } from './config.js';
import { dataDirSize, describeDataDirSize } from './data-size.js';
import { createLogger, logFormat } from './logging.js';
import { signInLink } from './web/signin-codes.js';

export { DataDirInUseError } from './data-dir.js';
export { LauncherError } from './pool/launcher.js';

export interface RunningServer {
  url: string;
  close: () => Promise<void>;
}

/** Starts the server, prints where it listens and how to authenticate, and stops cleanly on SIGTERM/SIGINT. */
export async function startServer(config: ServerConfig, opts: { handleSignals?: boolean } = {}): Promise<RunningServer> {
  const logger = createLogger(config);
  const built = await buildApp(config, logger);
  const { app } = built;
  try {
    await built.ctx.pool.check();
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await app.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;
  built.ctx.serverUrl = url;
  try {
    await built.ctx.pool.start();
  } catch (err) {
    await app.close();
    throw err;
  }

  const auth =
    built.adminTokenSource === 'env'
      ? 'the admin token is the one in LAZYAF_ADMIN_TOKEN'
      : `the admin token is in ${built.adminTokenPath} (the CLI reads it from there when LAZYAF_DATA points at this data dir)`;
  const pool = built.ctx.pool.state();
  const runners = `runners: a pool of ${pool.desired} (${pool.launcher} launcher${pool.ephemeral ? ', ephemeral' : ''})`;
  // The link signs a browser in (once, within 24 h): it is shown on a terminal only, never where
  // output may be kept (a journal, a container's log).
  const signIn = process.stderr.isTTY
    ? signInLink(config.publicUrl ?? url, built.ctx.signInCodes.issue().code)
    : 'run `lazyaf ui` for a one-click link (shown here only on a terminal)';
  const size = describeDataDirSize(await dataDirSize(config.dataDir));
  process.stderr.write(
    `lazyaf server listening on ${url} (version ${VERSION})\n  data: ${config.dataDir}, ${size}\n  ${auth}\n  ${runners}\n  API docs: ${url}/docs\n  web UI: ${config.publicUrl ?? url}/\n  sign in: ${signIn}\n`,
  );
  // Tests and scripts read the port from the stderr line above; this one is for log collectors.
  if (logFormat(config) === 'json') logger.info({ url, port, dataDir: config.dataDir, dataSize: size, version: VERSION }, 'listening');
  for (const warning of shortCredentialWarnings()) logger.warn(warning);
  const stopActivity = logActivity(built.ctx.events, built.ctx.store, logger);

  let closing: Promise<void> | undefined;
  // The pool goes first, while the server still answers its runners' last reports.
  const close = () =>
    (closing ??= built.ctx.pool
      .close()
      .then(() => app.close())
      .then(() => stopActivity()));
  if (opts.handleSignals) {
    // The process is the server's own. A last resort, once the known causes are fixed (git output
    // read whole, a throwing child process handler): one failing request must not end the server
    // for everyone, nor again after each restart. Each one is a bug to fix, so it is logged as one.
    process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception (a bug; the server carries on)'));
    process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled promise rejection (a bug; the server carries on)'));
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      logger.info({ signal }, 'shutting down');
      void close().then(() => process.exit(0));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  return { url, close };
}
