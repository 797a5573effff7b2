import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  ErrorBody,
  FollowupJob,
  IdParams,
  Job,
  JobDiff,
  JobDiffQuery,
  type JobLanding,
  JobList,
  JobListQuery,
  JobLogs,
  JobLogsQuery,
  SubmitJob,
  Transcript,
  TranscriptQuery,
} from '../../shared/api.js';
import type { Usage } from '../../shared/transcript.js';
import type { CheckResult, SetupReport } from '../../shared/environment.js';
import { hangUpSignal, whileServerWaits } from '../edge.js';
import { ApiError } from '../errors.js';
import { bareRepoPath } from '../git/bare.js';
import { jobDiff } from '../git/diff.js';
import { followLog, logPage } from '../queue/job-log.js';
import { jobDetails, runnerNameOf } from '../queue/job-view.js';
import { findJob } from '../queue/core.js';
import type { Queue, QueueStores } from '../queue/queue.js';
import { followUpJob, rerunJob, submitJob, type SubmitSources } from '../queue/submit.js';
import type { AttemptRow } from '../store/attempts.js';
import type { JobRow } from '../store/jobs.js';
import type { RepoStore } from '../store/repos.js';
import { choiceOf } from '../store/tasks.js';
import type { Sessions } from '../web/sessions.js';

export type JobRoutesOptions = SubmitSources & {
  queue: Queue;
  store: QueueStores;
  reposDir: string;
  /** A followed log ends when the browser session that asked for it ends. */
  sessions: Sessions;
};

/** A job as the API shows it; `last`, its latest attempt, gives its usage and transcript size (a single job's view passes all its `attempts`). */
/** Whether a check not passed fails the job: as its last attempt was told, else as submitted; unsaid while the repo decides and no attempt ran. */
function requireChecks(job: JobRow, last: AttemptRow | undefined): { require_checks?: boolean } {
  // What its last assignment said, else the submit's choice. Unsaid before any attempt, the repo
  // decides at the claim: not shown. Once assigned without an environment, nothing was required.
  const said = last?.require_checks ?? job.require_checks;
  if (said === null && !last) return {};
  return { require_checks: said === 1 };
}

export function jobToApi(job: JobRow, attempts?: AttemptRow[], last: AttemptRow | undefined = attempts?.at(-1)): Job {
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
    run_attempt_count: job.attempt_count - job.retried_after,
    max_attempts: job.max_attempts,
    ...(attempts
      ? {
          attempts: attempts.map((a) => ({
            id: a.id,
            number: a.number,
            runner_id: a.runner_id,
            runner_name: a.runner_name,
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
    log_pruned_at: job.log_pruned_ms === null ? null : new Date(job.log_pruned_ms).toISOString(),
    created_at: job.created_at,
    started_at: job.started_at,
    finished_at: job.finished_at,
    parent_job_id: job.parent_job_id,
    base_commit: job.base_commit,
    model: job.model,
    ...requireChecks(job, last),
    usage: last?.usage ? (JSON.parse(last.usage) as Usage) : null,
    setup: last?.setup ? (JSON.parse(last.setup) as SetupReport) : null,
    checks: last?.checks ? (JSON.parse(last.checks) as CheckResult[]) : [],
    transcript_entries: last?.transcript_entries ?? 0,
    landed: landingOf(job),
    task_id: job.task_id,
    choice: choiceOf(job),
  };
}

/** The job's landing as the API shows it, or null while it has not been landed from the server. */
export function landingOf(job: JobRow): JobLanding | null {
  if (job.landed_ms === null || job.landed_commit === null) return null;
  return {
    landed_by: job.landed_by ?? '',
    landed_at: new Date(job.landed_ms).toISOString(),
    remote_url: job.landed_remote_url ?? '',
    remote_branch: job.landed_branch ?? '',
    commit: job.landed_commit,
    pr_url: job.pr_url,
  };
}

/** A single job's view: its attempts, the names of its repo and runner, its chain, and why it may wait. */
export function singleJobView(job: JobRow, store: QueueStores, repos: RepoStore): Job {
  const attempts = store.attempts.forJob(job.id);
  return { ...jobToApi(job, attempts), ...jobDetails(job, attempts.at(-1), { jobs: store.jobs, runners: store.runners, repos }) };
}

/**
 * A list shows whether each check passed, not what it printed: up to 20 outputs of 4 KiB per job
 * would make a page of 100 jobs megabytes, polled. A single job's view has them.
 */
function withoutCheckOutput(job: Job): Job {
  return job.checks?.length ? { ...job, checks: job.checks.map((c) => ({ ...c, output_tail: '' })) } : job;
}

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody };

export async function jobRoutes(fastify: FastifyInstance, opts: JobRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { queue, store, repos } = opts;

  const mustFind = (ref: string): JobRow => findJob(store.jobs, ref);
  const view = (job: JobRow): Job => singleJobView(job, store, repos);

  // Description and command may reach 20,000 characters each, up to 6 bytes apiece as JSON escapes.
  app.post(
    '/api/jobs',
    { bodyLimit: 256 * 1024, schema: { summary: 'Submit a job', tags: ['jobs'], body: SubmitJob, response: { 201: Job, ...errors } } },
    async (req, reply) => {
      const job = await submitJob(req.body, opts);
      return reply.code(201).send(view(job));
    },
  );

  app.get(
    '/api/jobs',
    { schema: { summary: 'List jobs, newest first', tags: ['jobs'], querystring: JobListQuery, response: { 200: JobList, ...errors } } },
    async (req) => {
      const q = req.query;
      let repoId: string | undefined;
      if (q.repo_id) {
        const repo = repos.find(q.repo_id);
        if (!repo) throw new ApiError(404, `repo not found: ${q.repo_id}`);
        repoId = repo.id;
      }
      const filter = { repo_id: repoId, status: q.status, runner_id: q.runner_id };
      const rows = store.jobs.list({ ...filter, limit: q.limit ?? 100 });
      const last = store.attempts.lastOfJobs(rows.map((j) => j.id));
      return {
        jobs: rows.map((j) => ({ ...withoutCheckOutput(jobToApi(j, undefined, last.get(j.id))), runner_name: runnerNameOf(j, last.get(j.id), store.runners) })),
        total: store.jobs.count(filter),
      };
    },
  );

  app.get(
    '/api/jobs/:id',
    { schema: { summary: 'Get a job, with its attempts', tags: ['jobs'], params: IdParams, response: { 200: Job, ...errors } } },
    async (req) => view(mustFind(req.params.id)),
  );

  app.post('/api/jobs/:id/cancel', { schema: { summary: 'Cancel a job', tags: ['jobs'], params: IdParams, response: { 200: Job, ...errors } } }, async (req) =>
    view(queue.cancel(mustFind(req.params.id).id)),
  );

  app.post(
    '/api/jobs/:id/retry',
    {
      schema: {
        summary: 'Retry a failed or cancelled job',
        tags: ['jobs'],
        description: 'Runs a failed or cancelled job again on its own branch. A succeeded one is a 409: its branch may be landed; rerun it instead.',
        params: IdParams,
        response: { 200: Job, ...errors },
      },
    },
    async (req) => view(queue.retry(mustFind(req.params.id).id)),
  );

  // ---- new jobs from a finished one ---------------------------------------------------------
  app.post(
    '/api/jobs/:id/rerun',
    {
      schema: {
        summary: 'Run a job again as a new job',
        tags: ['jobs'],
        description: 'A new job with the same inputs as a finished one, on its own branch (a queued or running one is a 409).',
        params: IdParams,
        response: { 201: Job, ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(view(await rerunJob(mustFind(req.params.id), opts))),
  );

  app.post(
    '/api/jobs/:id/followup',
    {
      bodyLimit: 256 * 1024,
      schema: {
        summary: 'Follow up a job with a new one on its branch',
        tags: ['jobs'],
        description: "A new job on top of a finished job's branch, recording it as its parent (409 while it is queued or running, or when it left no commit).",
        params: IdParams,
        body: FollowupJob,
        response: { 201: Job, ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(view(await followUpJob(mustFind(req.params.id), req.body, opts))),
  );

  app.get(
    '/api/jobs/:id/diff',
    {
      schema: {
        summary: "Get a job's changes",
        tags: ['jobs'],
        description:
          "The job's changes against the commit its branch started from: files with line counts up to max_files, and the unified diff up to max_bytes.",
        params: IdParams,
        querystring: JobDiffQuery,
        response: { 200: JobDiff, ...errors },
      },
    },
    async (req, reply) => {
      const job = mustFind(req.params.id);
      const diff = jobDiff(bareRepoPath(opts.reposDir, job.repo_id), job, {
        maxBytes: req.query.max_bytes ?? 1024 * 1024,
        maxFiles: req.query.max_files ?? 3000,
        stat: req.query.stat ?? false,
        signal: hangUpSignal(reply),
      });
      return whileServerWaits(req, diff);
    },
  );

  app.get(
    '/api/jobs/:id/transcript',
    {
      schema: {
        summary: "Get an agent job's transcript",
        tags: ['jobs'],
        description:
          "An agent job's transcript: the entries of one attempt (the latest by default) numbered by seq, those after `after` only. A shell job has none.",
        params: IdParams,
        querystring: TranscriptQuery,
        response: { 200: Transcript, ...errors },
      },
    },
    async (req) => store.transcripts.read(mustFind(req.params.id), req.query.attempt, req.query.after ?? 0, req.query.limit),
  );

  app.get(
    '/api/jobs/:id/logs',
    {
      schema: {
        summary: "Read or follow a job's log",
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
      if (!req.query.follow) return logPage(store, job.id, offset, req.query.limit ?? 1024 * 1024);
      // Follow: a text stream that ends with the job.
      const signedOut = new AbortController();
      const unwatch = opts.sessions.watchRequest(req.headers, () => signedOut.abort());
      const hungUp = AbortSignal.any([hangUpSignal(reply), signedOut.signal]);
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
      // The client knows at once that it follows, even while the job has written nothing yet.
      reply.raw.flushHeaders();
      try {
        for await (const data of followLog(store, queue.wakeups, job.id, offset, hungUp, (wait) => whileServerWaits(req, wait))) {
          if (!reply.raw.write(data)) await drainedOrClosed(reply.raw);
        }
      } finally {
        unwatch();
      }
      reply.raw.end();
    },
  );
}

/** Waits until a response can take more, or is gone (a reader that stopped reading and hung up). */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
