import fs from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import type { ServerConfig } from '../config.js';
import type { LiveEvents } from '../events.js';
import type { RunnerStore } from '../store/runners.js';
import type { Db } from '../db/index.js';
import { loadOrCreateSecret } from '../secrets.js';
import { PoolStore } from '../store/pool.js';
import { DockerLauncher } from './docker.js';
import { engineIsLocal, hostRelayDir } from './host-relay.js';
import { ProcessLauncher, type Launcher } from './launcher.js';
import { Pool } from './pool.js';

/** A size given at start wins (and is kept); else the size the pool last had; else 2. */
const DEFAULT_RUNNERS = 2;

/**
 * This server's identity on a shared Docker engine, generated once per data dir: the label that
 * tells its runner containers from those of every other server.
 */
export function serverIdentity(dataDir: string): string {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return loadOrCreateSecret(dataDir, 'server_id', 'lzsrv').value;
}

/** The launcher `config.launcher` names; its runners' output goes to the server log. */
export function makeLauncher(config: ServerConfig, logger?: FastifyBaseLogger): Launcher {
  const onOutput = (poolId: string, line: string) => logger?.info({ runner: poolId }, line);
  if (config.launcher === 'docker') {
    const relayDir = engineIsLocal() && config.docker.network !== 'host' ? hostRelayDir(config.dataDir) : undefined;
    const settings = {
      ...config.docker,
      image: config.runnerImage,
      jobHostPorts: config.jobHostPorts,
      relayDir,
      jobLimits: config.jobLimits,
    };
    return new DockerLauncher(settings, serverIdentity(config.dataDir), onOutput);
  }
  return new ProcessLauncher(config.dataDir, onOutput);
}

/** The server's own pool of runners, which register like any other runner at `serverUrl`. */
export function makePool(
  config: ServerConfig,
  launcher: Launcher,
  parts: { db: Db; store: { runners: RunnerStore }; events: LiveEvents; registrationToken: string; serverUrl: () => string | undefined },
  logger?: FastifyBaseLogger,
): Pool {
  const store = new PoolStore(parts.db);
  if (config.runners !== undefined) store.setDesired(config.runners);
  return new Pool({
    launcher,
    desired: store.desired() ?? DEFAULT_RUNNERS,
    ephemeral: config.ephemeral,
    keep: (desired) => store.setDesired(desired),
    serverUrl: () => parts.serverUrl() ?? `http://127.0.0.1:${config.port}`,
    registrationToken: parts.registrationToken,
    isIdle: (poolId) => parts.store.runners.byPoolId(poolId)?.status === 'idle',
    emit: parts.events.emit,
    log: (msg) => logger?.info(msg),
  });
}
