import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody, IdParams, Job, JobList, JobListQuery, JobLogs, JobLogsQuery, SubmitJob } from '../../shared/api.js';
import { isValidBranchName } from '../../shared/git.js';
import { whileServerWaits } from '../edge.js';
import { ApiError } from '../errors.js';
import type { BranchCache } from '../git/branch-cache.js';
import type { Agents } from '../queue/agents.js';
import type { Queue } from '../queue/queue.js';
import { TERMINAL } from '../queue/state.js';
import type { AttemptRow } from '../store/attempts.js';
import type { JobRow } from '../store/jobs.js';
import type { RepoStore } from '../store/repos.js';

export interface JobRoutesOptions {
  queue: Queue;
  repos: RepoStore;
  branches: BranchCache;
  agents: () => Agents;
  defaultTimeoutS: number;
}

export function jobToApi(job: JobRow, attempts?: AttemptRow[]): Job {
  return {
    id: job.id,
    repo_id: job.repo_id,
    title: job.title,
    description: job.description,
    agent: job.agent,
    command: job.command,
    base_branch: job.base_branch,
    labels: JSON.parse(job.labels) as string[],
    timeout_s: job.timeout_s,
    status: job.status,
    cancel_requested: job.cancel_requested === 1,
    attempt_count: job.attempt_count,
    max_attempts: job.max_attempts,
    ...(attempts
      ? {
          attempts: attempts.map((a) => ({
            id: a.id,
            number: a.number,
            runner_id: a.runner_id,
            started_at: a.started_at,
            ended_at: a.ended_at,
            exit_code: a.exit_code,
            end_reason: a.end_reason,
            error: a.error,
          })),
        }
      : {}),
    runner_id: job.runner_id,
    branch: job.branch,
    commit: job.commit_sha,
    exit_code: job.exit_code,
    error: job.error,
    end_reason: job.end_reason,
    log_bytes: job.log_bytes,
    log_truncated: job.log_truncated === 1,
    created_at: job.created_at,
    started_at: job.started_at,
    finished_at: job.finished_at,
  };
}

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody };

export async function jobRoutes(fastify: FastifyInstance, opts: JobRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { queue, repos } = opts;

  const mustFind = (id: string): JobRow => {
    const job = queue.jobs.find(id);
    if (!job) throw new ApiError(404, `job not found: ${id}`);
    return job;
  };

  // Description and command may reach 20,000 characters each, up to 6 bytes apiece as JSON escapes.
  app.post('/api/jobs', { bodyLimit: 256 * 1024, schema: { tags: ['jobs'], body: SubmitJob, response: { 201: Job, ...errors } } }, async (req, reply) => {
    const body = req.body;
    const repo = repos.find(body.repo_id);
    if (!repo) throw new ApiError(404, `repo not found: ${body.repo_id}`);
    const agent = body.agent ?? (body.command !== undefined ? 'shell' : undefined);
    if (!agent) throw new ApiError(400, 'a job needs a command (for the shell agent) or an agent');
    if (agent === 'shell' && !body.command) throw new ApiError(400, 'the shell agent needs a command');
    if (agent !== 'shell') {
      if (body.command !== undefined) throw new ApiError(400, `give either a command or an agent ("${agent}" runs its own command)`);
      const agents = opts.agents();
      if (!agents.has(agent)) throw new ApiError(400, `unknown agent "${agent}"; known: shell, ${[...agents.keys()].join(', ')}`);
    }
    const baseBranch = body.base_branch ?? repo.default_branch;
    if (!isValidBranchName(baseBranch)) throw new ApiError(400, `invalid branch name: ${JSON.stringify(baseBranch)}`);
    if (!(await opts.branches.has(repo.id, baseBranch))) {
      throw new ApiError(400, `base branch "${baseBranch}" does not exist in repo ${repo.name}; push it first (lazyaf ingest)`);
    }
    const job = queue.submit({
      repo_id: repo.id,
      title: body.title,
      description: body.description ?? '',
      agent,
      command: agent === 'shell' ? (body.command ?? null) : null,
      base_branch: baseBranch,
      labels: JSON.stringify([...new Set(body.labels ?? [])].sort()),
      timeout_s: body.timeout_s ?? opts.defaultTimeoutS,
      max_attempts: body.max_attempts,
    });
    return reply.code(201).send(jobToApi(job, []));
  });

  app.get('/api/jobs', { schema: { tags: ['jobs'], querystring: JobListQuery, response: { 200: JobList, ...errors } } }, async (req) => {
    const q = req.query;
    let repoId: string | undefined;
    if (q.repo_id) {
      const repo = repos.find(q.repo_id);
      if (!repo) throw new ApiError(404, `repo not found: ${q.repo_id}`);
      repoId = repo.id;
    }
    const rows = queue.jobs.list({ repo_id: repoId, status: q.status, runner_id: q.runner_id, limit: q.limit ?? 100 });
    return { jobs: rows.map((j) => jobToApi(j)), total: rows.length };
  });

  app.get('/api/jobs/:id', { schema: { tags: ['jobs'], params: IdParams, response: { 200: Job, ...errors } } }, async (req) => {
    const job = mustFind(req.params.id);
    return jobToApi(job, queue.attempts.forJob(job.id));
  });

  app.post('/api/jobs/:id/cancel', { schema: { tags: ['jobs'], params: IdParams, response: { 200: Job, ...errors } } }, async (req) => {
    const job = queue.cancel(mustFind(req.params.id).id);
    return jobToApi(job, queue.attempts.forJob(job.id));
  });

  app.post('/api/jobs/:id/retry', { schema: { tags: ['jobs'], params: IdParams, response: { 200: Job, ...errors } } }, async (req) => {
    const job = queue.retry(mustFind(req.params.id).id);
    return jobToApi(job, queue.attempts.forJob(job.id));
  });

  app.get(
    '/api/jobs/:id/logs',
    {
      schema: {
        tags: ['jobs'],
        description: 'The job log from a byte offset: JSON, or with follow=true a text/plain stream that ends when the job has finished.',
        params: IdParams,
        querystring: JobLogsQuery,
        response: { 200: JobLogs, ...errors },
      },
    },
    async (req, reply) => {
      const job = mustFind(req.params.id);
      const offset = req.query.offset ?? 0;
      if (!req.query.follow) {
        const data = queue.logs.read(job.id, offset, req.query.limit ?? 1024 * 1024);
        const fresh = queue.jobs.get(job.id)!;
        const next = offset + data.length;
        return {
          job_id: job.id,
          offset,
          next_offset: next,
          content: data.toString('utf8'),
          truncated: fresh.log_truncated === 1,
          complete: TERMINAL.has(fresh.status) && next >= fresh.log_bytes,
        };
      }
      // Follow: write what is there, then wait for each change, until the job is over.
      const abort = new AbortController();
      reply.raw.on('close', () => abort.abort());
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
      let at = offset;
      while (!abort.signal.aborted) {
        const data = queue.logs.read(job.id, at, 256 * 1024);
        if (data.length > 0) {
          at += data.length;
          if (!reply.raw.write(data)) await new Promise((r) => reply.raw.once('drain', r));
          continue;
        }
        const fresh = queue.jobs.get(job.id);
        if (!fresh || (TERMINAL.has(fresh.status) && at >= fresh.log_bytes) || queue.wakeups.closed) break;
        await whileServerWaits(req, queue.wakeups.waitForJobChange(job.id, 15_000, abort.signal));
      }
      reply.raw.end();
    },
  );
}
