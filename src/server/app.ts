import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody, Health, PoolState, ScalePool } from '../shared/api.js';
import { VERSION } from '../shared/version.js';
import { bearerToken, makeTokenResolver, type Principal } from './auth.js';
import type { ServerConfig } from './config.js';
import { startCheckpointer } from './db/checkpointer.js';
import { openDb, type Db } from './db/index.js';
import { restrictDataDir } from './data-dir.js';
import { edgeServerOptions, guardEdge } from './edge.js';
import { ApiError } from './errors.js';
import { bareRepoPath, listBranches, removePushLeftovers, resolveBranch, setHead } from './git/bare.js';
import { BranchCache } from './git/branch-cache.js';
import { gitHttpRoutes, PRE_RECEIVE_HOOK } from './git/http.js';
import { loadAgents } from './queue/agents.js';
import { Queue } from './queue/queue.js';
import { ProcessLauncher } from './pool/launcher.js';
import { Pool } from './pool/pool.js';
import { eventRoutes } from './routes/events.js';
import { jobRoutes } from './routes/jobs.js';
import { repoRoutes } from './routes/repos.js';
import { runnerRoutes } from './routes/runners.js';
import { TokenBucket } from './rate-limit.js';
import { loadOrCreateSecret } from './secrets.js';
import { RepoStore, type RepoRow } from './store/repos.js';

/** Everything the routes share. Built once per server. */
export interface ServerContext {
  config: ServerConfig;
  db: Db;
  repos: RepoStore;
  /** Live events for the UI stream: `event` with `{ type, ... }`. */
  events: EventEmitter;
  adminToken: string;
  registrationToken: string;
  reposDir: string;
  queue: Queue;
  pool: Pool;
  /** Set once the server listens; runners the pool starts connect here. */
  serverUrl?: string;
}

export interface BuiltApp {
  app: FastifyInstance;
  ctx: ServerContext;
  /** Where the admin token came from, for the start-up message. */
  adminTokenSource: 'env' | 'file' | 'generated';
  adminTokenPath: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call a route: the admin token (default for /api), anyone, or the runner protocol's own checks. */
    auth?: 'admin' | 'public' | 'custom';
  }
}

export async function buildApp(config: ServerConfig, logger?: FastifyBaseLogger): Promise<BuiltApp> {
  // Before anything is opened or started, so a refused start leaves nothing running.
  if (config.launcher !== 'process') throw new Error(`the ${config.launcher} launcher is not available in this version; use --launcher process`);
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const reposDir = path.join(config.dataDir, 'repos');
  const hooksDir = path.join(config.dataDir, 'hooks');
  fs.mkdirSync(reposDir, { recursive: true });
  fs.mkdirSync(hooksDir, { recursive: true });
  fs.writeFileSync(path.join(hooksDir, 'pre-receive'), PRE_RECEIVE_HOOK, { mode: 0o755 });
  restrictDataDir(config.dataDir);
  await removePushLeftovers(reposDir);

  const admin = loadOrCreateSecret(config.dataDir, 'admin_token', 'lzadm', config.adminToken);
  const registration = loadOrCreateSecret(config.dataDir, 'registration_token', 'lzreg', config.registrationToken);
  const dbFile = path.join(config.dataDir, 'lazyaf.db');
  const db = openDb(dbFile);
  const checkpointer = startCheckpointer(db, dbFile, (err) =>
    (logger ?? console).error({ err }, 'the WAL checkpoint worker failed; SQLite checkpoints by itself until a restart'),
  );
  const repos = new RepoStore(db);
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const queue = new Queue(db, {
    leaseTtlMs: Math.round(config.leaseTtlSeconds * 1000),
    maxAttempts: config.maxAttempts,
    logCapBytes: config.logCapBytes,
    timeoutGraceMs: config.timeoutGraceSeconds * 1000,
    runnerPruneAfterMs: config.runnerPruneAfterSeconds * 1000,
    emit: (event) => events.emit('event', event),
  });
  const pool = new Pool({
    launcher: new ProcessLauncher(config.dataDir, (poolId, line) => logger?.info({ runner: poolId }, line)),
    desired: config.runners,
    serverUrl: () => ctx.serverUrl ?? `http://127.0.0.1:${config.port}`,
    registrationToken: registration.value,
    isIdle: (poolId) => queue.runners.byPoolId(poolId)?.status === 'idle',
    emit: (event) => events.emit('event', event),
    log: (msg) => logger?.info(msg),
  });
  const ctx: ServerContext = { config, db, repos, events, adminToken: admin.value, registrationToken: registration.value, reposDir, queue, pool };
  const agents = loadAgents(config.dataDir);
  const publicUrl = process.env.LAZYAF_PUBLIC_URL || undefined;
  // A job token is a principal only while its attempt holds a live lease.
  const resolveJobToken = (token: string): Principal | undefined => {
    if (!token.startsWith('lzjob_')) return undefined;
    const attempt = queue.liveAttemptByToken(token);
    const job = attempt && queue.jobs.get(attempt.job_id);
    if (!attempt || !job) return undefined;
    return { kind: 'job', jobId: job.id, attemptId: attempt.id, runnerId: attempt.runner_id, repoId: job.repo_id, branch: job.branch_name };
  };
  const resolveToken = makeTokenResolver(admin.value, [resolveJobToken]);

  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    ...edgeServerOptions(config),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const status = err instanceof ApiError ? err.statusCode : (err.statusCode ?? 500);
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      const message = status === 502 ? err.message : 'internal server error';
      return reply.code(status).send({ statusCode: status, error: status === 502 ? 'Bad Gateway' : 'Internal Server Error', message });
    }
    return reply.code(status).send({ statusCode: status, error: httpReason(status), message: err.message });
  });
  const notFound = (req: FastifyRequest, reply: FastifyReply) =>
    reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no route for ${req.method} ${req.url.split('?')[0]}` });
  app.setNotFoundHandler(notFound);

  app.addHook('onRequest', async (req, reply) => {
    // By the route's pattern, not the raw URL: `/%61pi/repos` or `http://host/api/repos` reach the same route.
    const auth = req.routeOptions.config.auth ?? ((req.routeOptions.url ?? req.url).startsWith('/api/') ? 'admin' : 'public');
    if (auth === 'admin') {
      const token = bearerToken(req);
      const principal = token ? resolveToken(token) : undefined;
      if (principal?.kind !== 'admin') {
        reply.header('WWW-Authenticate', 'Bearer realm="lazyaf"');
        return reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: token ? 'invalid token' : 'missing bearer token (the admin token)' });
      }
    }
    // Before a body is read: there is no route to read it for.
    if (req.is404) return notFound(req, reply);
  });
  guardEdge(app, config);

  await app.register(swagger, {
    openapi: {
      info: { title: 'lazyaf', version: VERSION, description: 'Runs coding agents and commands on a pool of runners against an internal git server.' },
      components: { securitySchemes: { admin: { type: 'http', scheme: 'bearer' } } },
      security: [{ admin: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/api/health', { config: { auth: 'public' }, schema: { tags: ['system'], security: [], response: { 200: Health } } }, async () => ({
    status: 'ok' as const,
    version: VERSION,
  }));

  await app.register(repoRoutes, {
    repos,
    reposDir,
    publicUrl,
    onRepoChange: (e) => events.emit('event', { type: e.type, repo_id: e.repo.id, name: e.repo.name }),
  });

  const branchCache = new BranchCache(reposDir);
  await app.register(gitHttpRoutes, {
    repos,
    reposDir,
    hooksDir,
    resolveToken,
    maxPushBytes: config.maxPushBytes,
    onPush: (repo, principal) => {
      branchCache.invalidate(repo.id);
      // Returned, not voided: the push's response waits for it, so a client that saw its push succeed sees the new default branch.
      return afterPush(ctx, repo, principal).catch((err) => app.log.warn({ err }, 'post-push update failed'));
    },
  });

  await app.register(jobRoutes, { queue, repos, branches: branchCache, agents: () => agents, defaultTimeoutS: config.jobTimeoutSeconds });
  await app.register(runnerRoutes, {
    queue,
    registrationToken: registration.value,
    reposDir,
    publicUrl,
    longPollMs: Math.round(config.longPollSeconds * 1000),
    registrations: new TokenBucket(config.registerBurst, config.registerPerSecond),
    agents: () => agents,
  });

  let markClosing!: () => void;
  const closing = new Promise<void>((resolve) => (markClosing = resolve));
  await app.register(eventRoutes, { events, closing });

  app.get('/api/pool', { schema: { tags: ['pool'], response: { 200: PoolState, 401: ErrorBody } } }, async () => pool.state());
  app.put('/api/pool', { schema: { tags: ['pool'], body: ScalePool, response: { 200: PoolState, 400: ErrorBody, 401: ErrorBody } } }, async (req) =>
    pool.scale(req.body.desired),
  );

  // Leases expire on time even when no request arrives.
  const sweepMs = Math.min(5000, Math.max(100, Math.floor((config.leaseTtlSeconds * 1000) / 4)));
  const sweeper = setInterval(() => {
    try {
      for (const f of queue.sweep().failed) app.log.error({ attempt: f.attempt_id, err: f.error }, 'could not expire a lease; retrying on the next sweep');
    } catch (err) {
      app.log.error({ err }, 'lease sweep failed');
    }
  }, sweepMs);
  sweeper.unref();

  // Long-polls and log streams end at once, so a shutdown does not wait out their timeouts.
  app.addHook('preClose', async () => {
    markClosing();
    queue.wakeups.close();
    // Normally already stopped by startServer before closing; quick when it is.
    await pool.close(3000, 2000);
    // Node's server.close() waits for every connection, including ones a client opened and never
    // used; give requests in flight a moment, then close whatever is left.
    setTimeout(() => app.server.closeAllConnections(), 3000).unref();
  });
  app.addHook('onClose', async () => {
    clearInterval(sweeper);
    await checkpointer.stop();
    db.close();
  });
  return { app, ctx, adminTokenSource: admin.source, adminTokenPath: admin.path };
}

/**
 * After an accepted push: a repo whose default branch does not exist yet takes the pushed one
 * (main, master, else the first), so the next clone checks something out; then tell the UI.
 */
async function afterPush(ctx: ServerContext, repo: RepoRow, principal: Principal): Promise<void> {
  const repoPath = bareRepoPath(ctx.reposDir, repo.id);
  const branches = await listBranches(repoPath);
  const current = ctx.repos.get(repo.id);
  if (current && branches.length > 0 && !(await resolveBranch(repoPath, current.default_branch))) {
    const pick = branches.find((b) => b.name === 'main') ?? branches.find((b) => b.name === 'master') ?? branches[0]!;
    await setHead(repoPath, pick.name);
    ctx.repos.update(repo.id, { default_branch: pick.name });
  }
  ctx.events.emit('event', { type: 'branches.updated', repo_id: repo.id, by: principal.kind, branches });
}

function httpReason(status: number): string {
  const reasons: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    408: 'Request Timeout',
    409: 'Conflict',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
    422: 'Unprocessable Entity',
    429: 'Too Many Requests',
  };
  return reasons[status] ?? 'Error';
}
