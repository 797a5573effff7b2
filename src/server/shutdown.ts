import type { FastifyInstance } from 'fastify';
import type { Checkpointer } from './db/checkpointer.js';
import type { Db } from './db/index.js';
import type { Pool } from './pool/pool.js';
import type { Queue } from './queue/queue.js';
import type { Deliverer } from './webhooks/deliverer.js';

/** How the server closes: waits end first, then the pool, the connections, and last the database and the data dir. */
export function shutdownHooks(
  app: FastifyInstance,
  parts: {
    closing: AbortController;
    queue: Queue;
    pool: Pool;
    stopSweeper: () => void;
    deliverer: Deliverer;
    checkpointer: Checkpointer;
    db: Db;
    unlockDataDir: () => void;
  },
): void {
  // Long-polls and log streams end at once, so a shutdown does not wait out their timeouts.
  app.addHook('preClose', async () => {
    parts.closing.abort();
    parts.queue.wakeups.close();
    // Before the database closes: a delivery cut here is recorded as due at once, for the next start.
    await parts.deliverer.stop();
    // Normally already stopped by startServer before closing; quick when it is.
    await parts.pool.close(3000, 2000);
    // Node's server.close() waits for every connection, including ones a client opened and never
    // used; give requests in flight a moment, then close whatever is left.
    setTimeout(() => app.server.closeAllConnections(), 3000).unref();
  });
  app.addHook('onClose', async () => {
    parts.stopSweeper();
    await parts.checkpointer.stop();
    parts.db.close();
    parts.unlockDataDir();
  });
}
