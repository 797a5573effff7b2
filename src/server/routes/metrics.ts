import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken } from '../auth.js';
import type { JobDurations } from '../metrics/durations.js';
import type { GitTraffic } from '../metrics/git-traffic.js';
import { formatFamilies, METRICS_CONTENT_TYPE, type Family } from '../metrics/format.js';
import type { Pool } from '../pool/pool.js';
import { tokenMatches } from '../secrets.js';
import { DURATION_BUCKETS, type DurationHistogram, type MetricsStore } from '../store/metrics.js';
import type { UsageStore } from '../store/usage.js';
import { errorBody } from '../errors.js';

export interface MetricsRoutesOptions {
  metrics: MetricsStore;
  durations: JobDurations;
  usage: UsageStore;
  git: GitTraffic;
  pool: Pool;
  adminToken: string;
  /** LAZYAF_METRICS_TOKEN: lets a scraper read /metrics and nothing else; unset, only the admin token does. */
  metricsToken?: string;
}

/** Every family of a scrape, read now. */
export function collectFamilies(opts: MetricsRoutesOptions): Family[] {
  const { metrics } = opts;
  const pool = opts.pool.state();
  const git = opts.git.counts();
  const usage = opts.usage.byAgent({ since: '', repo_id: null });
  const histogram = (h: DurationHistogram) => [{ buckets: DURATION_BUCKETS, ...h }];
  return [
    { name: 'lazyaf_jobs', help: 'Jobs by status.', type: 'gauge', samples: metrics.jobsByStatus().map((r) => ({ labels: { status: r.status }, value: r.n })) },
    {
      name: 'lazyaf_job_queue_wait_seconds',
      help: "Time from a finished job's submission to its first start.",
      type: 'histogram',
      histograms: histogram(opts.durations.queueWait()),
    },
    {
      name: 'lazyaf_job_run_seconds',
      help: "Time from a finished job's first start to its end.",
      type: 'histogram',
      histograms: histogram(opts.durations.runDuration()),
    },
    {
      name: 'lazyaf_runners',
      help: 'Registered runners by state.',
      type: 'gauge',
      samples: metrics.runnersByStatus().map((r) => ({ labels: { state: r.status }, value: r.n })),
    },
    { name: 'lazyaf_pool_desired_runners', help: "The pool's desired size.", type: 'gauge', samples: [{ value: pool.desired }] },
    { name: 'lazyaf_pool_running_runners', help: 'Runners the pool has started and not yet seen leave.', type: 'gauge', samples: [{ value: pool.running }] },
    { name: 'lazyaf_log_bytes', help: 'Bytes of job logs stored (pruned logs excluded).', type: 'gauge', samples: [{ value: metrics.logBytes() }] },
    {
      name: 'lazyaf_git_requests_total',
      help: 'Git smart HTTP requests by service and status code, since the server started.',
      type: 'counter',
      samples: git.requests.map((r) => ({ labels: { service: r.service, code: r.code }, value: r.n })),
    },
    {
      name: 'lazyaf_git_bytes_total',
      help: 'Git smart HTTP bytes by service and direction (in: request bodies; out: responses), since the server started.',
      type: 'counter',
      samples: git.bytes.map((r) => ({ labels: { service: r.service, direction: r.direction }, value: r.n })),
    },
    {
      name: 'lazyaf_agent_tokens_total',
      help: 'Tokens agents reported, by agent and kind, over every attempt stored.',
      type: 'counter',
      samples: usage.flatMap((u) => [
        { labels: { agent: u.agent, kind: 'input' }, value: u.input_tokens },
        { labels: { agent: u.agent, kind: 'output' }, value: u.output_tokens },
        { labels: { agent: u.agent, kind: 'cache_read' }, value: u.cache_read_tokens },
        { labels: { agent: u.agent, kind: 'cache_write' }, value: u.cache_write_tokens },
      ]),
    },
    {
      name: 'lazyaf_agent_cost_usd_total',
      help: 'Cost in US dollars agents reported, by agent, over every attempt stored.',
      type: 'counter',
      samples: usage.map((u) => ({ labels: { agent: u.agent }, value: u.cost_usd })),
    },
  ];
}

/** `GET /metrics`: the Prometheus text format, for the admin token or the metrics token. */
export async function metricsRoutes(app: FastifyInstance, opts: MetricsRoutesOptions): Promise<void> {
  const onRequest = async (req: FastifyRequest, reply: FastifyReply) => {
    const token = bearerToken(req);
    if (tokenMatches(token, opts.adminToken) || (opts.metricsToken !== undefined && tokenMatches(token, opts.metricsToken))) return;
    reply.header('WWW-Authenticate', 'Bearer realm="lazyaf"');
    return reply
      .code(401)
      .send(
        errorBody(401, token ? 'invalid token (the admin token or LAZYAF_METRICS_TOKEN)' : 'missing bearer token (the admin token or LAZYAF_METRICS_TOKEN)'),
      );
  };
  app.get(
    '/metrics',
    {
      config: { auth: 'custom' },
      onRequest,
      schema: {
        summary: 'Prometheus metrics',
        tags: ['system'],
        description:
          "Jobs by status, queue wait and run durations, runners by state, the pool, log bytes, git traffic, and agents' tokens and cost, in the Prometheus text format 0.0.4. The admin token or LAZYAF_METRICS_TOKEN.",
      },
    },
    async (_req, reply) => reply.header('Content-Type', METRICS_CONTENT_TYPE).send(formatFamilies(collectFamilies(opts))),
  );
}
