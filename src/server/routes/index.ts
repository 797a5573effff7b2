import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Health } from '../../shared/api.js';
import { SESSION_COOKIE } from '../../shared/session.js';
import { VERSION } from '../../shared/version.js';
import type { TokenResolver } from '../auth.js';
import type { ServerContext } from '../context.js';
import { BranchCache } from '../git/branch-cache.js';
import { Comments } from '../comments/comments.js';
import { CommentStore } from '../store/comments.js';
import { isFinished } from '../../shared/job-status.js';
import { hostRelayDir } from '../pool/host-relay.js';
import { gitHttpRoutes } from '../git/http.js';
import { Dispatcher } from '../queue/dispatcher.js';
import { KeyedBuckets, TokenBucket } from '../rate-limit.js';
import type { WebUi } from '../web/ui.js';
import { containerLimits } from '../pool/container-limits.js';
import { dockerCommandRoutes } from './docker-command.js';
import { eventRoutes } from './events.js';
import { jobRoutes, singleJobView } from './jobs.js';
import { commentRoutes } from './comments.js';
import { landRoutes } from './land.js';
import { poolRoutes } from './pool.js';
import { repoRoutes } from './repos.js';
import { runnerRoutes } from './runners.js';
import { secretRoutes } from './secrets.js';
import { sessionRoutes } from './session.js';
import { usageRoutes } from './usage.js';
import { metricsRoutes } from './metrics.js';
import { GitTraffic } from '../metrics/git-traffic.js';
import { MetricsStore } from '../store/metrics.js';
import { JobDurations } from '../metrics/durations.js';
import { taskRoutes } from './tasks.js';
import { TaskStore } from '../store/tasks.js';
import { discardAfterMs, Tasks } from '../tasks.js';
import { UsageStore } from '../store/usage.js';
import { webRoutes } from './web.js';
import { webhookRoutes } from './webhooks.js';

/**
 * Sign-in attempts allowed at once, then per second, from one client address: a person mistyping is
 * never slowed, guessing the token gets nowhere, and one client spending its attempts locks no one
 * else out. From all addresses together, ten times that.
 */
const SIGN_IN_BURST = 10;
const SIGN_IN_PER_SECOND = 1;
const SIGN_IN_BURST_ALL = 100;
const SIGN_IN_PER_SECOND_ALL = 10;

/** Every route of the server, and the OpenAPI document at /docs that describes them. */
export async function registerRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  opts: { resolveToken: TokenResolver; closing: AbortSignal; ui: WebUi },
): Promise<{ tasks: Tasks }> {
  const { config, queue, store, repos, reposDir } = ctx;
  await app.register(swagger, {
    openapi: {
      info: { title: 'lazyaf', version: VERSION, description: 'Runs coding agents and commands on a pool of runners against an internal git server.' },
      components: {
        securitySchemes: { admin: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE } },
      },
      security: [{ admin: [] }, { session: [] }],
    },
  });
  // Its pages share the web UI's origin, so its cookie: they get the plugin's CSP (its own scripts
  // only), framed by no one, and without `upgrade-insecure-requests`, which would send the page's
  // own assets to https on a plain-http server. No top bar: its logo carries an inline <style>,
  // which that CSP refuses with an error in the browser's console, and its box would load a
  // document from elsewhere on this origin.
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { layout: 'BaseLayout' },
    staticCSP: true,
    transformStaticCSP: (header) =>
      header
        .replace(/\s*upgrade-insecure-requests;?/, '')
        .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
        .trim(),
  });

  app.get(
    '/api/health',
    { config: { auth: 'public' }, schema: { summary: 'Health and version', tags: ['system'], security: [], response: { 200: Health } } },
    async () => ({
      status: 'ok' as const,
      version: VERSION,
    }),
  );

  const agents = () => ctx.agents;
  await app.register(repoRoutes, { repos, publicUrl: config.publicUrl });

  // Its hooks only where the git routes inherit them: every other request would pay for three
  // more hooks that find nothing to count.
  const gitTraffic = new GitTraffic();
  const branches = new BranchCache(reposDir);
  const gitRouteOptions: Parameters<typeof gitHttpRoutes>[1] = {
    repos: repos.store,
    reposDir,
    hooksDir: ctx.hooksDir,
    resolveToken: opts.resolveToken,
    maxPushBytes: config.maxPushBytes,
    onPush: (repo, principal) => {
      branches.invalidate(repo.id);
      // Returned, not voided: the push's response waits for it, so a client that saw its push succeed sees the new default branch.
      return repos.afterPush(repo, principal).catch((err) => app.log.warn({ err }, 'post-push update failed'));
    },
  };
  await app.register(async (git) => {
    gitTraffic.watch(git);
    await git.register(gitHttpRoutes, gitRouteOptions);
  });

  const submitSources = { queue, repos: repos.store, branches, agents, defaultTimeoutS: config.jobTimeoutSeconds };
  await app.register(jobRoutes, { ...submitSources, store, reposDir, sessions: ctx.sessions });
  const comments = new Comments({
    store: new CommentStore(ctx.db),
    jobs: store.jobs,
    queue,
    sources: submitSources,
    reposDir,
    emit: ctx.events.emit,
    log: app.log,
  });
  await app.register(commentRoutes, { comments, store, jobView: (job) => singleJobView(job, store, repos.store) });
  // A follow-up that comments were sent to has finished: which of them did its diff touch?
  const stopWatching = ctx.events.subscribe((e) => {
    if (e.type === 'job.updated' && isFinished(e.status)) void comments.checkTouched(e.job_id);
  });
  app.addHook('onClose', async () => stopWatching());
  // Those that finished while the server was down.
  void comments.checkUnchecked();
  await app.register(landRoutes, { ctx });
  const taskStore = new TaskStore(ctx.db);
  const tasks = new Tasks({
    queue,
    store,
    repos: repos.store,
    branches,
    agents,
    defaultTimeoutS: config.jobTimeoutSeconds,
    tasks: taskStore,
    reposDir,
    notify: (event, subject) => ctx.notify(event, subject),
    discardAfterMs: discardAfterMs(config),
  });
  await app.register(taskRoutes, { ctx, tasks });
  const usage = new UsageStore(ctx.db);
  await app.register(usageRoutes, { usage, repos: repos.store });
  const metrics = new MetricsStore(ctx.db);
  const durations = new JobDurations(metrics, store.jobs);
  const stopDurations = durations.follow(ctx.events);
  app.addHook('onClose', async () => stopDurations());
  await app.register(metricsRoutes, {
    metrics,
    durations,
    usage,
    git: gitTraffic,
    pool: ctx.pool,
    adminToken: ctx.adminToken,
    metricsToken: config.metricsToken,
  });
  await app.register(runnerRoutes, {
    queue,
    store,
    dispatcher: new Dispatcher(queue, store, {
      reposDir,
      agents,
      secrets: (repoId) => ctx.secrets.valuesFor(repoId),
      environment: {
        override: (repoId) => repos.store.environment(repoId),
        repoName: (repoId) => repos.store.get(repoId)?.name ?? repoId,
        lookup: ctx.secretLookup,
      },
      agentModels: config.agentModels,
      sessionFiles: ctx.sessionFiles,
      longPollMs: Math.round(config.longPollSeconds * 1000),
      pinnedBase: (jobId) => taskStore.baseCommitOfJob(jobId),
    }),
    registrationToken: ctx.registrationToken,
    publicUrl: config.publicUrl,
    registrations: new TokenBucket(config.registerBurst, config.registerPerSecond),
    redactor: () => ctx.secrets.redactor(),
    sessionFiles: ctx.sessionFiles,
  });
  await app.register(dockerCommandRoutes, {
    image: config.runnerImage,
    registrationToken: ctx.registrationToken,
    publicUrl: config.publicUrl,
    relayDir: hostRelayDir(config.dataDir),
    jobHostPorts: config.jobHostPorts,
    limits: containerLimits(config.jobLimits, config.docker.memoryBytes),
    listenHost: config.host,
  });
  const closing = new Promise<void>((resolve) => opts.closing.addEventListener('abort', () => resolve(), { once: true }));
  await app.register(eventRoutes, { events: ctx.events, closing, sessions: ctx.sessions });
  await app.register(poolRoutes, { pool: ctx.pool });
  await app.register(secretRoutes, { secrets: ctx.secrets, repos });
  await app.register(webhookRoutes, { webhooks: ctx.webhooks });
  await app.register(sessionRoutes, {
    sessions: ctx.sessions,
    codes: ctx.signInCodes,
    adminToken: ctx.adminToken,
    publicUrl: config.publicUrl,
    attempts: new KeyedBuckets(SIGN_IN_BURST, SIGN_IN_PER_SECOND),
    allAttempts: new TokenBucket(SIGN_IN_BURST_ALL, SIGN_IN_PER_SECOND_ALL),
  });
  await app.register(webRoutes, { ui: opts.ui });
  return { tasks };
}
