import { Type, type Static } from 'typebox';
import { AGENT_NAME_RE } from '../names.js';
import { ListTotal, Nullable, Time } from './common.js';
import { DiffFile } from './diff.js';
import { CandidateChoice, Job, JobLandRequest, JobLandResult, SubmitJob } from './jobs.js';

/** The most candidates one task may have. */
export const MAX_TASK_JOBS = 16;

/**
 * `POST /api/tasks`: what `POST /api/jobs` takes, plus `count` (that many jobs of the one agent or
 * command) or `agents` (one job per name, repeats allowed: `["claude", "claude", "codex"]`), not both.
 * Every job gets the same prompt and base commit, and its own branch.
 */
export const SubmitTask = Type.Object(
  {
    ...SubmitJob.properties,
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TASK_JOBS, description: 'How many jobs of the same agent or command.' })),
    agents: Type.Optional(
      Type.Array(Type.String({ pattern: AGENT_NAME_RE.source }), {
        minItems: 1,
        maxItems: MAX_TASK_JOBS,
        description: 'One job per agent named, repeats allowed (not with `command` or `agent`).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type SubmitTask = Static<typeof SubmitTask>;

export const DiffStat = Type.Object({
  files: Type.Integer({ minimum: 0 }),
  added: Type.Integer({ minimum: 0 }),
  removed: Type.Integer({ minimum: 0 }),
});
export type DiffStat = Static<typeof DiffStat>;

export const TaskCandidate = Type.Object({
  job: Job,
  diff_stat: Nullable(DiffStat, 'Against the base commit, once the job left a commit; null before, or when it changed nothing.'),
  duration_ms: Nullable(Type.Integer({ minimum: 0 }), "From the job's first start to its end; null until it ends."),
  choice: Nullable(CandidateChoice),
  branch_expires_at: Nullable(Time(), "A discarded candidate's branch is deleted then (the picked one's never is)."),
  branch_deleted_at: Nullable(Time()),
});
export type TaskCandidate = Static<typeof TaskCandidate>;

export const TaskStatus = Type.Union([Type.Literal('running'), Type.Literal('finished')], {
  description: 'finished once every candidate job has finished.',
});

export const Task = Type.Object({
  id: Type.String(),
  repo_id: Type.String(),
  repo_name: Type.Optional(Type.String()),
  title: Type.String(),
  status: TaskStatus,
  created_at: Time(),
  picked_job_id: Nullable(Type.String()),
  picked_at: Nullable(Time()),
  jobs: Type.Array(TaskCandidate, { description: 'In the order they were created.' }),
});
export type Task = Static<typeof Task>;

/** `POST /api/tasks` → 201. */
export const TaskCreated = Type.Object({ id: Type.String(), jobs: Type.Array(Job) });
export type TaskCreated = Static<typeof TaskCreated>;

export const TaskList = Type.Object({ tasks: Type.Array(Task, { description: 'Newest first.' }), total: ListTotal() });
export type TaskList = Static<typeof TaskList>;

export const TaskListQuery = Type.Object(
  {
    repo_id: Type.Optional(Type.String({ maxLength: 200, description: 'Repo id or name.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  },
  { additionalProperties: false },
);

/** `POST /api/tasks/{id}/pick`. */
export const PickTask = Type.Object(
  {
    job_id: Type.String({ minLength: 1, maxLength: 64, description: 'The candidate chosen (its id or a unique prefix of 4+).' }),
    land: Type.Optional(Type.Boolean({ default: false, description: 'Land it too, as `POST /api/jobs/{id}/land` would.' })),
    land_options: Type.Optional(JobLandRequest),
  },
  { additionalProperties: false },
);
export type PickTask = Static<typeof PickTask>;

export const PickResult = Type.Object({ task: Task, land: Type.Optional(JobLandResult) });
export type PickResult = Static<typeof PickResult>;

/** `GET /api/jobs/{id}/compare/{other}`: how two jobs' work differs (their commits, not their bases). */
export const JobCompareQuery = Type.Object(
  {
    max_bytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, default: 1024 * 1024 })),
    max_files: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 3000 })),
    stat: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);

export const JobCompare = Type.Object(
  {
    job_id: Type.String(),
    other_job_id: Type.String(),
    commit: Type.String({ description: "The first job's commit: the diff's old side." }),
    other_commit: Type.String({ description: "The other job's commit: the diff's new side." }),
    files: Type.Array(DiffFile),
    files_truncated: Type.Boolean(),
    added: Type.Integer({ description: 'Lines the other job has that the first has not, in the files listed.' }),
    removed: Type.Integer({ description: 'Lines the first job has that the other has not, in the files listed.' }),
    diff: Type.String({
      description: 'The unified diff from the first commit to the other (empty with stat=true), cut at max_bytes behind a marker line when `truncated`.',
    }),
    truncated: Type.Boolean(),
  },
  { description: "How two jobs' work differs: the diff between their commits." },
);
export type JobCompare = Static<typeof JobCompare>;
