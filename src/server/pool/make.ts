import type { FastifyBaseLogger } from 'fastify';
import type { ServerConfig } from '../config.js';
import type { LiveEvents } from '../events.js';
import type { Queue } from '../queue/queue.js';
import { ProcessLauncher } from './launcher.js';
import { Pool } from './pool.js';

/** The server's own pool of runners, which register like any other runner at `serverUrl`. */
export function makePool(
  config: ServerConfig,
  parts: { queue: Queue; events: LiveEvents; registrationToken: string; serverUrl: () => string | undefined },
  logger?: FastifyBaseLogger,
): Pool {
  return new Pool({
    launcher: new ProcessLauncher(config.dataDir, (poolId, line) => logger?.info({ runner: poolId }, line)),
    desired: config.runners,
    serverUrl: () => parts.serverUrl() ?? `http://127.0.0.1:${config.port}`,
    registrationToken: parts.registrationToken,
    isIdle: (poolId) => parts.queue.runners.byPoolId(poolId)?.status === 'idle',
    emit: parts.events.emit,
    log: (msg) => logger?.info(msg),
  });
}
