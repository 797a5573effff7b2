import type { FastifyBaseLogger } from 'fastify';
import type { ServerConfig } from '../config.js';
import type { LiveEvents } from '../events.js';
import type { Queue } from '../queue/queue.js';
import { PoolStore } from '../store/pool.js';
import type { Db } from '../db/index.js';
import { ProcessLauncher } from './launcher.js';
import { Pool } from './pool.js';

/** A size given at start wins (and is kept); else the size the pool last had; else 2. */
const DEFAULT_RUNNERS = 2;

/** The server's own pool of runners, which register like any other runner at `serverUrl`. */
export function makePool(
  config: ServerConfig,
  parts: { db: Db; queue: Queue; events: LiveEvents; registrationToken: string; serverUrl: () => string | undefined },
  logger?: FastifyBaseLogger,
): Pool {
  const store = new PoolStore(parts.db);
  if (config.runners !== undefined) store.setDesired(config.runners);
  return new Pool({
    launcher: new ProcessLauncher(config.dataDir, (poolId, line) => logger?.info({ runner: poolId }, line)),
    desired: store.desired() ?? DEFAULT_RUNNERS,
    ephemeral: config.ephemeral,
    keep: (desired) => store.setDesired(desired),
    serverUrl: () => parts.serverUrl() ?? `http://127.0.0.1:${config.port}`,
    registrationToken: parts.registrationToken,
    isIdle: (poolId) => parts.queue.runners.byPoolId(poolId)?.status === 'idle',
    emit: parts.events.emit,
    log: (msg) => logger?.info(msg),
  });
}
