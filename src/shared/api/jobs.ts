import { Type, type Static } from 'typebox';
import { FINISHED_JOB_STATUSES, isFinished, JOB_STATUSES, SHELL_AGENT } from '../job-status.js';
import { AGENT_NAME_RE, MODEL_RE } from '../names.js';
import { AttemptEndReason, Labels } from '../protocol.js';
import { Usage } from '../transcript.js';
import { CheckResult, SetupReport } from '../environment.js';
import { ListTotal, Nullable, Time } from './common.js';
import { BranchName } from './repos.js';

export const JobStatus = Type.Enum(JOB_STATUSES);
export type JobStatus = Static<typeof JobStatus>;
export { FINISHED_JOB_STATUSES, isFinished };

/** How a job's last attempt ended, or why the job ended without one. */
export const JobEndReason = Type.Union([
  ...AttemptEndReason.anyOf,
  /** No registered runner could take the queued job within the no-runner timeout. */
  Type.Literal('no_runner'),
]);
export type JobEndReason = Static<typeof JobEndReason>;

export const SubmitJob = Type.Object(
  {
    repo_id: Type.String({ minLength: 1, maxLength: 200, description: 'Repo id or name.' }),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 20_000, description: 'For an agent job, what to do: its prompt holds the title and this.' })),
    command: Type.Optional(
      // `sh -c` takes a C string: a NUL byte could never reach it.
      Type.String({
        minLength: 1,
        maxLength: 20_000,
        pattern: '^[^\\x00]*$',
        description: `Shell command run in the workspace (agent "${SHELL_AGENT}"); no NUL byte.`,
      }),
    ),
    agent: Type.Optional(
      Type.String({
        pattern: AGENT_NAME_RE.source,
        description: `${SHELL_AGENT} (default with command), claude, gemini, codex, aider, or one from agents.json.`,
      }),
    ),
    base_branch: Type.Optional(BranchName),
    labels: Type.Optional(Labels),
    timeout_s: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 })),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
    model: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        pattern: MODEL_RE.source,
        description: "For an agent job: the model its agent uses (else the agent's default, then the CLI's own).",
      }),
    ),
    require_checks: Type.Optional(
      Type.Boolean({ description: "The job fails when one of the repo's checks does not pass (default: the repo's `require_checks`, else false)." }),
    ),
  },
  { additionalProperties: false },
);
export type SubmitJob = Static<typeof SubmitJob>;

export const FollowupJob = Type.Object(
  {
    title: SubmitJob.properties.title,
    description: SubmitJob.properties.description,
    command: SubmitJob.properties.command,
    agent: SubmitJob.properties.agent,
    labels: SubmitJob.properties.labels,
    timeout_s: SubmitJob.properties.timeout_s,
    model: SubmitJob.properties.model,
    fresh: Type.Optional(Type.Boolean({ description: "Start a new conversation instead of continuing the parent's (same agent only)." })),
  },
  {
    additionalProperties: false,
    description:
      "A new job on top of the parent's branch (its base branch is the parent's `lazyaf/<id>`), recording the parent. Labels and timeout default to the parent's.",
  },
);
export type FollowupJob = Static<typeof FollowupJob>;

/** A candidate of a task a person picked, or one of the others once one was picked. */
export const CandidateChoice = Type.Union([Type.Literal('picked'), Type.Literal('discarded')]);
export type CandidateChoice = Static<typeof CandidateChoice>;

/** `POST /api/jobs/{id}/land`: the job's branch pushed to the repo's `remote_url`, from the server. */
export const JobLandRequest = Type.Object(
  {
    pr: Type.Optional(Type.Boolean({ default: false, description: "Open a pull request (GitLab: merge request) on the repo's forge too." })),
    force_with_lease: Type.Optional(
      Type.Boolean({ default: false, description: 'Replace the remote branch if it is where lazyaf last saw it (git push --force-with-lease).' }),
    ),
    remote_branch: Type.Optional(BranchName),
    base: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "The pull request's base: default the repo's default branch." })),
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: "The pull request's title: default the job's." })),
    body: Type.Optional(Type.String({ maxLength: 60_000, description: "The pull request's body: default the job's description and a link to it." })),
  },
  { additionalProperties: false },
);
export type JobLandRequest = Static<typeof JobLandRequest>;

/** What the job records once landed. */
export const JobLanding = Type.Object({
  landed_by: Type.String({ description: 'Who asked: "admin" (the admin token) or the signed-in browser session\'s name.' }),
  landed_at: Time(),
  remote_url: Type.String({ description: 'Where, its credentials hidden.' }),
  remote_branch: Type.String(),
  commit: Type.String(),
  pr_url: Nullable(Type.String(), 'The pull request opened with it, or null.'),
});
export type JobLanding = Static<typeof JobLanding>;

export const JobLandResult = Type.Object({
  job_id: Type.String(),
  landing: JobLanding,
  output: Type.String({ description: "What git push said, URLs' credentials hidden." }),
  pr_error: Nullable(Type.String(), 'Pushed, but the forge refused or could not be reached for the pull request: why (the landing stands).'),
});
export type JobLandResult = Static<typeof JobLandResult>;

export const ChainLink = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    status: JobStatus,
    branch: Nullable(Type.String()),
    commit: Nullable(Type.String()),
  },
  { description: 'A job of a follow-up chain, as `GET /api/jobs/{id}` lists its ancestors.' },
);
export type ChainLink = Static<typeof ChainLink>;

export const Attempt = Type.Object({
  id: Type.String(),
  number: Type.Integer({ description: '1 for the first attempt, counting every attempt of the job.' }),
  runner_id: Type.String(),
  runner_name: Type.Optional(
    Nullable(Type.String(), "The runner's name when it took the attempt, kept after the runner is gone (null for attempts recorded before names were kept)."),
  ),
  started_at: Time(),
  ended_at: Nullable(Time(), 'Null while the attempt runs.'),
  exit_code: Nullable(Type.Integer(), 'Null when the command did not exit by itself (timeout, cancel, lost) or never ran.'),
  end_reason: Nullable(AttemptEndReason, 'Null while the attempt runs.'),
  error: Nullable(Type.String()),
});

export const Job = Type.Object({
  id: Type.String(),
  repo_id: Type.String(),
  title: Type.String(),
  description: Type.String(),
  agent: Type.String({ description: `${SHELL_AGENT} for a command, else the agent given the title and description as its prompt.` }),
  command: Nullable(Type.String(), `The shell command (agent ${SHELL_AGENT}), or null for an agent job.`),
  base_branch: Type.String(),
  labels: Type.Array(Type.String(), { description: 'A runner takes the job only when it offers all of them.' }),
  timeout_s: Type.Integer(),
  status: JobStatus,
  cancel_requested: Type.Boolean(),
  attempt_count: Type.Integer({ description: 'All its attempts, over every run: the number of the latest.' }),
  run_attempt_count: Type.Integer({
    description: 'The attempts since the job was last retried (all of them if never); `max_attempts` caps the lost ones among them.',
  }),
  max_attempts: Type.Integer({ description: 'How many attempts of a run may lose their runner before the job fails; a retry starts a new run.' }),
  attempts: Type.Optional(Type.Array(Attempt)),
  runner_id: Nullable(Type.String(), 'The runner on it, or that last had it.'),
  branch: Nullable(Type.String(), "The job's branch (`lazyaf/<id>`) once it holds a commit of the job's."),
  commit: Nullable(Type.String(), 'The commit the job left on its branch, or null when it changed nothing (or has not ended).'),
  exit_code: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  end_reason: Nullable(JobEndReason, 'Null until the job ends.'),
  log_bytes: Type.Integer(),
  log_truncated: Type.Boolean({ description: 'The log reached its cap: later output was dropped.' }),
  log_pruned_at: Type.Optional(
    Nullable(
      Time(),
      "When retention (`LAZYAF_RETENTION_DAYS`) removed the finished job's log and transcripts; null while they are kept. `log_bytes` stays what it was.",
    ),
  ),
  created_at: Time(),
  started_at: Nullable(Time()),
  finished_at: Nullable(Time()),
  parent_job_id: Nullable(Type.String(), "The job this one follows up (its base branch is that job's branch), or null."),
  base_commit: Nullable(Type.String(), "The commit the job's branch started from, once a runner reported it: what `/diff` compares against."),
  repo_name: Type.Optional(Type.String({ description: "In a single job's view (`GET /api/jobs/{id}`, submit, rerun, follow-up): the repo's name." })),
  runner_name: Type.Optional(Nullable(Type.String(), 'The name of the runner on it, or of the one that last had it (as recorded when it took the attempt).')),
  chain: Type.Optional(
    Type.Array(ChainLink, { description: "In a single job's view: the jobs it follows up, oldest first (empty for a job that follows none)." }),
  ),
  no_runner: Type.Optional(
    Nullable(
      Type.String(),
      "For a queued job: why no registered runner can take it (no runner has its labels or its agent), or null when some runner could. Set in a single job's view and in submit's answer.",
    ),
  ),
  model: Type.Optional(Nullable(Type.String(), "For an agent job: the model asked for at submit, or null for the agent's default.")),
  usage: Type.Optional(Nullable(Usage, 'For an agent job, once an attempt reported it: what its last attempt used.')),
  require_checks: Type.Optional(Type.Boolean({ description: "Whether a check that does not pass fails the job (the submit's, else the repo's)." })),
  setup: Type.Optional(Nullable(SetupReport, "How its last attempt's setup went, once reported (null: the repo has no environment, or not yet).")),
  checks: Type.Optional(Type.Array(CheckResult, { description: "The repo's checks as its last attempt ran them, in order (empty: none, or not yet)." })),
  transcript_entries: Type.Optional(Type.Integer({ minimum: 0, description: 'For an agent job: the number of transcript entries of its last attempt.' })),
  task_id: Type.Optional(Nullable(Type.String(), 'The task it is a candidate of (`POST /api/tasks`), or null.')),
  choice: Type.Optional(Nullable(CandidateChoice, "Once its task's pick was made: whether it was picked or discarded.")),
  landed: Type.Optional(Nullable(JobLanding, 'Once landed from the server (`POST /api/jobs/{id}/land`).')),
});
export type Job = Static<typeof Job>;

export const JobList = Type.Object({ jobs: Type.Array(Job, { description: 'Newest first, at most `limit`.' }), total: ListTotal() });
export type JobList = Static<typeof JobList>;

export const JobListQuery = Type.Object(
  {
    repo_id: Type.Optional(Type.String({ maxLength: 200, description: 'Repo id or name.' })),
    status: Type.Optional(JobStatus),
    runner_id: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);

export const JobLogsQuery = Type.Object(
  {
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'The first byte to return.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 * 1024 * 1024, default: 1024 * 1024 })),
    follow: Type.Optional(Type.Boolean({ default: false, description: 'Stream text/plain from offset until the job has finished.' })),
  },
  { additionalProperties: false },
);

export const JobLogs = Type.Object({
  job_id: Type.String(),
  offset: Type.Integer(),
  next_offset: Type.Integer({ description: 'The offset to ask for next.' }),
  content: Type.String(),
  truncated: Type.Boolean({ description: "The job's log reached its cap (as the job's `log_truncated`)." }),
  pruned: Type.Optional(Type.Boolean({ description: "Retention removed this log (as the job's `log_pruned_at`): there is nothing to read." })),
  complete: Type.Boolean({ description: 'The job has finished and every byte of its log has been returned.' }),
});
export type JobLogs = Static<typeof JobLogs>;
