import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { jobTokenResolver, makeTokenResolver } from './auth.js';
import type { ServerConfig } from './config.js';
import type { ServerContext } from './context.js';
import { hostRelayDir, offerHostRelay } from './pool/host-relay.js';
import { makeLauncher, makePool } from './pool/make.js';
import { startSweeper } from './queue/sweeper.js';
import { startRetentionSweeper } from './retention.js';
import { RetentionStore } from './store/retention.js';
import { createHttp } from './routes/base.js';
import { registerRoutes } from './routes/index.js';
import { shutdownHooks } from './shutdown.js';
import { discardAfterMs, relayJobChanges, startBranchSweeper } from './tasks.js';
import { openStores } from './stores.js';
import { adminAccess } from './web/access.js';
import { WebUi } from './web/ui.js';

export interface BuiltApp {
  app: FastifyInstance;
  ctx: ServerContext;
  /** Where the admin token came from, for the start-up message. */
  adminTokenSource: 'env' | 'file' | 'generated';
  adminTokenPath: string;
}

/** The whole server, not yet listening: its stores, its pool, its routes, the sweeper, and how it closes. */
export async function buildApp(config: ServerConfig, logger?: FastifyBaseLogger): Promise<BuiltApp> {
  // The pool checks it when it starts (no engine, no image: the server's one line).
  const launcher = makeLauncher(config, logger);
  const { checkpointer, unlockDataDir, adminTokenSource, adminTokenPath, ...stores } = await openStores(config, logger);
  const ctx: ServerContext = { ...stores, pool: makePool(config, launcher, { ...stores, serverUrl: () => ctx.serverUrl }, logger) };
  const resolveToken = makeTokenResolver(ctx.adminToken, [jobTokenResolver(ctx.queue, ctx.store.jobs)]);

  const ui = new WebUi(config.webDir);
  const app = createHttp(config, { admit: adminAccess(resolveToken, ctx.sessions, config.publicUrl), page: (req, reply) => ui.fallback(req, reply) }, logger);
  const closing = new AbortController();
  const { tasks } = await registerRoutes(app, ctx, { resolveToken, closing: closing.signal, ui });
  offerHostRelay(app, { dir: hostRelayDir(config.dataDir), jobHostPorts: config.jobHostPorts });
  // Before the routes answer any runner and before the first sweep: leases held while the server was
  // down were not renewed, and their runners get a full TTL to reconnect rather than lose their jobs.
  ctx.queue.extendLeasesAtStart();
  const stopQueueSweeper = startSweeper(ctx.queue, app.log);
  const stopBranchSweeper = startBranchSweeper(tasks, discardAfterMs(config), app.log);
  const stopTaskRelay = relayJobChanges(tasks, ctx.events, ctx.store.jobs);
  const stopRetention = startRetentionSweeper(new RetentionStore(ctx.db), config.retentionDays, app.log);
  const stopSweeper = (): void => {
    stopRetention();
    stopQueueSweeper();
    stopBranchSweeper();
    stopTaskRelay();
  };
  // Deliveries left pending by the last run (cut by its end, or due for a retry) go out now.
  ctx.webhooks.deliverer.start();
  shutdownHooks(app, { closing, queue: ctx.queue, pool: ctx.pool, stopSweeper, deliverer: ctx.webhooks.deliverer, checkpointer, db: ctx.db, unlockDataDir });
  return { app, ctx, adminTokenSource, adminTokenPath };
}
