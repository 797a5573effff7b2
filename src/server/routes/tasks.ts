import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ErrorBody,
  IdParams,
  JobCompare,
  JobCompareQuery,
  PickResult,
  PickTask,
  SubmitTask,
  Task,
  TaskCreated,
  TaskList,
  TaskListQuery,
  type Job,
} from '../../shared/api.js';
import type { ServerContext } from '../context.js';
import { hangUpSignal, whileServerWaits } from '../edge.js';
import { ApiError } from '../errors.js';
import { bareRepoPath } from '../git/bare.js';
import { commitsDiff } from '../git/diff.js';
import { landJob, landPlan } from '../land-job.js';
import { findJob } from '../queue/core.js';
import { jobDetails } from '../queue/job-view.js';
import type { JobRow } from '../store/jobs.js';
import type { Tasks } from '../tasks.js';
import { jobToApi } from './jobs.js';

export interface TaskRoutesOptions {
  ctx: ServerContext;
  tasks: Tasks;
}

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody };

const CompareParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }), other: Type.String({ minLength: 1, maxLength: 200 }) });

/** Who asked for a land: the admin token, or a browser signed in to the web UI (sessions carry no name). */
function askedBy(req: FastifyRequest): string {
  return req.headers.authorization !== undefined ? 'admin' : 'web UI session';
}

export async function taskRoutes(fastify: FastifyInstance, opts: TaskRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx, tasks } = opts;
  const { store } = ctx;

  /** A candidate as a single job's view shows it: attempts, names, chain. */
  const jobView = (job: JobRow): Job => {
    const attempts = store.attempts.forJob(job.id);
    return { ...jobToApi(job, attempts), ...jobDetails(job, attempts.at(-1), { jobs: store.jobs, runners: store.runners, repos: ctx.repos.store }) };
  };
  /** A candidate in a list: its last attempt's usage and checks, without their output. */
  const listedJobView = (job: JobRow): Job => {
    const last = store.attempts.lastOfJobs([job.id]).get(job.id);
    const view = jobToApi(job, undefined, last);
    return view.checks?.length ? { ...view, checks: view.checks.map((c) => ({ ...c, output_tail: '' })) } : view;
  };

  // A task takes what a job takes: description and command may reach 20,000 characters each.
  app.post(
    '/api/tasks',
    {
      bodyLimit: 256 * 1024,
      schema: {
        summary: 'Give one task to several jobs',
        tags: ['tasks'],
        description:
          'What `POST /api/jobs` takes, plus `count` (that many jobs of the one agent or command) or `agents` (one job per agent named): every job gets the same prompt and base branch, and its own `lazyaf/...` branch.',
        body: SubmitTask,
        response: { 201: TaskCreated, ...errors },
      },
    },
    async (req, reply) => {
      const { task, jobs } = await tasks.submit(req.body);
      return reply.code(201).send({ id: task.id, jobs: jobs.map(jobView) });
    },
  );

  app.get(
    '/api/tasks',
    { schema: { summary: 'List tasks, newest first', tags: ['tasks'], querystring: TaskListQuery, response: { 200: TaskList, ...errors } } },
    async (req, reply) => {
      let repoId: string | undefined;
      if (req.query.repo_id !== undefined) {
        const repo = ctx.repos.store.find(req.query.repo_id);
        if (!repo) throw new ApiError(404, `repo not found: ${req.query.repo_id}`);
        repoId = repo.id;
      }
      const rows = tasks.list(repoId, req.query.limit ?? 50);
      const signal = hangUpSignal(reply);
      const views = await whileServerWaits(req, Promise.all(rows.map((t) => tasks.view(t, listedJobView, signal))));
      return { tasks: views, total: tasks.count(repoId) };
    },
  );

  app.get(
    '/api/tasks/:id',
    {
      schema: {
        summary: 'Get a task, its candidates side by side',
        tags: ['tasks'],
        description:
          "Each candidate: its job, its diff stat against its base commit, its duration, whether it was picked or discarded, and when a discarded one's branch goes.",
        params: IdParams,
        response: { 200: Task, ...errors },
      },
    },
    async (req, reply) => whileServerWaits(req, tasks.view(tasks.find(req.params.id), jobView, hangUpSignal(reply))),
  );

  app.post(
    '/api/tasks/:id/pick',
    {
      schema: {
        summary: "Pick a task's candidate",
        tags: ['tasks'],
        description:
          'Marks a finished candidate with a commit as picked and the others as discarded (their branches are deleted after LAZYAF_DISCARD_DAYS; the picked one never is). Once: picking another afterwards is a 409. With `land`, lands it as `POST /api/jobs/{id}/land` would.',
        params: IdParams,
        body: PickTask,
        response: { 200: PickResult, ...errors },
      },
    },
    async (req, reply) => {
      const found = tasks.find(req.params.id);
      // A land that cannot happen is refused before the pick, which cannot be taken back.
      if (req.body.land) landPlan(ctx, tasks.candidate(found, req.body.job_id), req.body.land_options ?? {});
      const picked = tasks.pick(found, req.body.job_id);
      const land = req.body.land ? await landJob(ctx, picked.job, req.body.land_options ?? {}, askedBy(req)) : undefined;
      const task = await whileServerWaits(req, tasks.view(picked.task, jobView, hangUpSignal(reply)));
      return land ? { task, land } : { task };
    },
  );

  app.get(
    '/api/jobs/:id/compare/:other',
    {
      schema: {
        summary: "Compare two jobs' work",
        tags: ['jobs'],
        description:
          "How the other job's commit differs from the job's (two candidates of a task, say): files with line counts up to max_files, and the unified diff up to max_bytes. Both jobs of one repo, both with a commit.",
        params: CompareParams,
        querystring: JobCompareQuery,
        response: { 200: JobCompare, ...errors },
      },
    },
    async (req, reply) => {
      const job = findJob(store.jobs, req.params.id);
      const other = findJob(store.jobs, req.params.other);
      if (job.repo_id !== other.repo_id)
        throw new ApiError(400, `jobs ${job.id.slice(0, 8)} and ${other.id.slice(0, 8)} are of different repos: there is no diff between them`);
      for (const j of [job, other]) {
        if (!j.commit_sha)
          throw new ApiError(
            409,
            `job ${j.id.slice(0, 8)} has no commit yet (${j.status === 'succeeded' ? 'it changed nothing' : j.status}): nothing to compare`,
          );
      }
      const diff = commitsDiff(
        bareRepoPath(ctx.reposDir, job.repo_id),
        {
          from: { what: `job ${job.id.slice(0, 8)}'s commit`, commit: job.commit_sha! },
          to: { what: `job ${other.id.slice(0, 8)}'s commit`, commit: other.commit_sha! },
        },
        { maxBytes: req.query.max_bytes ?? 1024 * 1024, maxFiles: req.query.max_files ?? 3000, stat: req.query.stat ?? false, signal: hangUpSignal(reply) },
      );
      const result = await whileServerWaits(req, diff);
      return { job_id: job.id, other_job_id: other.id, commit: job.commit_sha!, other_commit: other.commit_sha!, ...result };
    },
  );
}
