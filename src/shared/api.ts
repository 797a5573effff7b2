import { Type, type Static } from 'typebox';
import { TranscriptEntry, Usage } from './transcript.js';
import { FINISHED_JOB_STATUSES, isFinished, JOB_STATUSES } from './job-status.js';
import { AGENT_NAME_RE, MAX_SECRET_CHARS, MODEL_RE, NAME_RE, SECRET_NAME_RE } from './names.js';
import { AttemptEndReason, Labels, RunnerStatus } from './protocol.js';

/**
 * The public HTTP API's shapes, declared once: the server validates and documents with them,
 * the CLI types its responses with them.
 */

export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
});

export const RepoName = Type.String({
  pattern: NAME_RE.source,
  description: 'Letters, digits, ".", "_" and "-", at most 100 characters, starting with a letter or digit.',
});
export const BranchName = Type.String({ minLength: 1, maxLength: 255, description: 'A git branch name (without refs/heads/).' });
export const RemoteUrl = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'The real remote: an http(s)/ssh/git/file URL, user@host:path, or an absolute path.',
});

export const Repo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  default_branch: Type.String(),
  remote_url: Type.Union([Type.String(), Type.Null()]),
  clone_url: Type.String(),
  created_at: Type.String(),
  updated_at: Type.String(),
});
export type Repo = Static<typeof Repo>;

export const CreateRepo = Type.Object(
  {
    name: RepoName,
    remote_url: Type.Optional(Type.Union([RemoteUrl, Type.Null()])),
    default_branch: Type.Optional(BranchName),
  },
  { additionalProperties: false },
);
export type CreateRepo = Static<typeof CreateRepo>;

export const UpdateRepo = Type.Object(
  {
    name: Type.Optional(RepoName),
    remote_url: Type.Optional(Type.Union([RemoteUrl, Type.Null()])),
    default_branch: Type.Optional(BranchName),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateRepo = Static<typeof UpdateRepo>;

export const RepoList = Type.Object({ repos: Type.Array(Repo), total: Type.Integer() });
export type RepoList = Static<typeof RepoList>;

export const CloneUrl = Type.Object({ clone_url: Type.String(), repo_id: Type.String(), name: Type.String() });

export const Branch = Type.Object({
  name: Type.String(),
  commit: Type.String(),
  is_default: Type.Boolean(),
  is_lazyaf: Type.Boolean(),
});
export const BranchList = Type.Object({ branches: Type.Array(Branch), default_branch: Type.String(), total: Type.Integer() });
export type BranchList = Static<typeof BranchList>;

export const LandRequest = Type.Object(
  {
    branch: BranchName,
    remote_branch: Type.Optional(BranchName),
    force: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);
export type LandRequest = Static<typeof LandRequest>;

export const LandResult = Type.Object({
  repo_id: Type.String(),
  branch: Type.String(),
  remote_branch: Type.String(),
  remote_url: Type.String(),
  commit: Type.String(),
  output: Type.String(),
});
export type LandResult = Static<typeof LandResult>;

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

export const Health = Type.Object({ status: Type.Literal('ok'), version: Type.String() });

// ---- jobs ---------------------------------------------------------------------------------

export const JobStatus = Type.Enum(JOB_STATUSES);
export type JobStatus = Static<typeof JobStatus>;
export { FINISHED_JOB_STATUSES, isFinished };

export const SubmitJob = Type.Object(
  {
    repo_id: Type.String({ minLength: 1, maxLength: 200, description: 'Repo id or name.' }),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 20_000 })),
    command: Type.Optional(
      // `sh -c` takes a C string: a NUL byte could never reach it.
      Type.String({ minLength: 1, maxLength: 20_000, pattern: '^[^\\x00]*$', description: 'Shell command run in the workspace (agent "shell"); no NUL byte.' }),
    ),
    agent: Type.Optional(
      Type.String({ pattern: AGENT_NAME_RE.source, description: 'shell (default with command), claude, gemini, codex, aider, or one from agents.json.' }),
    ),
    base_branch: Type.Optional(BranchName),
    labels: Type.Optional(Labels),
    timeout_s: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 })),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
    /** For an agent job: the model its agent uses (else the agent's default, then the CLI's own). */
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: MODEL_RE.source })),
  },
  { additionalProperties: false },
);
export type SubmitJob = Static<typeof SubmitJob>;

/**
 * `POST /api/jobs/{id}/followup`: a new job on top of the parent's branch (its base branch is the
 * parent's `lazyaf/<id>`), recording the parent. Labels and timeout default to the parent's.
 */
export const FollowupJob = Type.Object(
  {
    title: SubmitJob.properties.title,
    description: SubmitJob.properties.description,
    command: SubmitJob.properties.command,
    agent: SubmitJob.properties.agent,
    labels: SubmitJob.properties.labels,
    timeout_s: SubmitJob.properties.timeout_s,
    model: SubmitJob.properties.model,
    /** Start a new conversation instead of continuing the parent's (same agent only). */
    fresh: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type FollowupJob = Static<typeof FollowupJob>;

/** A job of a follow-up chain, as `GET /api/jobs/{id}` lists its ancestors. */
export const ChainLink = Type.Object({
  id: Type.String(),
  title: Type.String(),
  status: JobStatus,
  branch: Type.Union([Type.String(), Type.Null()]),
  commit: Type.Union([Type.String(), Type.Null()]),
});
export type ChainLink = Static<typeof ChainLink>;

const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);

export const Attempt = Type.Object({
  id: Type.String(),
  number: Type.Integer(),
  runner_id: Type.String(),
  /** The runner's name when it took the attempt, kept after the runner is gone (null for attempts recorded before names were kept). */
  runner_name: Type.Optional(Nullable(Type.String())),
  started_at: Type.String(),
  ended_at: Type.Union([Type.String(), Type.Null()]),
  exit_code: Type.Union([Type.Integer(), Type.Null()]),
  end_reason: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
});

export const Job = Type.Object({
  id: Type.String(),
  repo_id: Type.String(),
  title: Type.String(),
  description: Type.String(),
  agent: Type.String(),
  command: Nullable(Type.String()),
  base_branch: Type.String(),
  labels: Type.Array(Type.String()),
  timeout_s: Type.Integer(),
  status: JobStatus,
  cancel_requested: Type.Boolean(),
  attempt_count: Type.Integer({ description: 'All its attempts, over every run: the number of the latest.' }),
  run_attempt_count: Type.Integer({
    description: 'The attempts since the job was last retried (all of them if never); `max_attempts` caps the lost ones among them.',
  }),
  max_attempts: Type.Integer({ description: 'How many attempts of a run may lose their runner before the job fails; a retry starts a new run.' }),
  attempts: Type.Optional(Type.Array(Attempt)),
  runner_id: Nullable(Type.String()),
  branch: Nullable(Type.String()),
  commit: Nullable(Type.String()),
  exit_code: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  end_reason: Nullable(Type.String()),
  log_bytes: Type.Integer(),
  log_truncated: Type.Boolean(),
  created_at: Type.String(),
  started_at: Nullable(Type.String()),
  finished_at: Nullable(Type.String()),
  /** The job this one follows up (its base branch is that job's branch), or null. */
  parent_job_id: Nullable(Type.String()),
  /** The commit the job's branch started from, once a runner reported it: what `/diff` compares against. */
  base_commit: Nullable(Type.String()),
  /** In a single job's view (`GET /api/jobs/{id}`, submit, rerun, follow-up): the repo's name. */
  repo_name: Type.Optional(Type.String()),
  /** In a single job's view: the name of the runner on it (or that last had it), if it is still listed. */
  runner_name: Type.Optional(Nullable(Type.String())),
  /** In a single job's view: the jobs it follows up, oldest first (empty for a job that follows none). */
  chain: Type.Optional(Type.Array(ChainLink)),
  /**
   * For a queued job: why no registered runner can take it (no runner has its labels or its
   * agent), or null when some runner could. Set in a single job's view and in submit's answer.
   */
  no_runner: Type.Optional(Nullable(Type.String())),
  /** For an agent job: the model asked for at submit, or null for the agent's default. */
  model: Type.Optional(Nullable(Type.String())),
  /** For an agent job, once an attempt reported it: what its last attempt used. */
  usage: Type.Optional(Type.Union([Usage, Type.Null()])),
  /** For an agent job: the number of transcript entries of its last attempt. */
  transcript_entries: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type Job = Static<typeof Job>;

// ---- transcripts and usage ------------------------------------------------------------------

/** An entry as stored: numbered from 1 within its attempt. */
export const StoredTranscriptEntry = Type.Object({ ...TranscriptEntry.properties, seq: Type.Integer({ minimum: 1 }) });
export type StoredTranscriptEntry = Static<typeof StoredTranscriptEntry>;

export const TranscriptQuery = Type.Object(
  {
    /** Which attempt (1, 2, ...): the last one by default. */
    attempt: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Only entries with a greater seq (to follow after a live event was missed). */
    after: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type TranscriptQuery = Static<typeof TranscriptQuery>;

/** `GET /api/jobs/{id}/transcript`: a shell job, or an agent job before its first entry, has none. */
export const Transcript = Type.Object({
  job_id: Type.String(),
  /** The attempt shown, or null when the job has none yet. */
  attempt: Type.Union([Type.Integer(), Type.Null()]),
  entries: Type.Array(StoredTranscriptEntry),
  /** The attempt's transcript reached its cap: later entries were dropped (the raw log has them). */
  truncated: Type.Boolean(),
});
export type Transcript = Static<typeof Transcript>;

export const UsageQuery = Type.Object(
  {
    /** Only attempts that ended on or after this day (YYYY-MM-DD, UTC). */
    since: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' })),
    repo: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Repo id or name.' })),
  },
  { additionalProperties: false },
);
export type UsageQuery = Static<typeof UsageQuery>;

export const UsageSum = Type.Object({
  jobs: Type.Integer(),
  input_tokens: Type.Integer(),
  output_tokens: Type.Integer(),
  cache_read_tokens: Type.Integer(),
  cache_write_tokens: Type.Integer(),
  /** Summed over the jobs whose agent reported a cost; `jobs_without_cost` says how many did not. */
  cost_usd: Type.Number(),
  jobs_without_cost: Type.Integer(),
});
export type UsageSum = Static<typeof UsageSum>;

/** `GET /api/usage`: agent usage summed per repo and per day (UTC), newest day first. */
export const UsageReport = Type.Object({
  total: UsageSum,
  by_repo: Type.Array(Type.Object({ repo_id: Type.String(), repo_name: Type.String(), ...UsageSum.properties })),
  by_day: Type.Array(Type.Object({ day: Type.String(), ...UsageSum.properties })),
});
export type UsageReport = Static<typeof UsageReport>;

/**
 * A file the job changed, with its added and removed line counts: null for a binary file, and for
 * every file of a list cut at DIFF_LIST_MAX_BYTES of paths (counting them would cost the whole diff).
 */
export const DiffFile = Type.Object({
  path: Type.String(),
  /** The path before a rename or copy. */
  old_path: Nullable(Type.String()),
  /** A added, M modified, D deleted, R renamed, C copied, T type changed. */
  status: Type.String(),
  added: Nullable(Type.Integer()),
  removed: Nullable(Type.Integer()),
  binary: Type.Boolean(),
});
export type DiffFile = Static<typeof DiffFile>;

/**
 * The most bytes of git's file list a diff reads, whatever max_files says: a job chooses its
 * paths' length (160,000 paths of 3,500 characters, a few MB of objects, listed 564 MB).
 */
export const DIFF_LIST_MAX_BYTES = 4 * 1024 * 1024;

export const JobDiffQuery = Type.Object(
  {
    max_bytes: Type.Optional(
      Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, default: 1024 * 1024, description: 'Cap on the unified diff returned; past it, a marker.' }),
    ),
    max_files: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10_000,
        default: 3000,
        description: `Cap on the files listed (and on ${DIFF_LIST_MAX_BYTES} bytes of their paths); past it, files_truncated.`,
      }),
    ),
    stat: Type.Optional(Type.Boolean({ default: false, description: 'Only the files and counts, no unified diff.' })),
  },
  { additionalProperties: false },
);

/** `GET /api/jobs/{id}/diff`: the job's changes against the commit its branch started from. */
export const JobDiff = Type.Object({
  job_id: Type.String(),
  branch: Type.String(),
  /** The job's commit, or null when it has none yet (queued, running, or it changed nothing). */
  commit: Nullable(Type.String()),
  base_commit: Nullable(Type.String()),
  files: Type.Array(DiffFile),
  /** The job changed more files than listed: the list stops at max_files, or at DIFF_LIST_MAX_BYTES of paths. */
  files_truncated: Type.Boolean(),
  /** Lines added and removed in the files listed. */
  added: Type.Integer(),
  removed: Type.Integer(),
  /** The unified diff (empty with stat=true), cut at max_bytes behind a marker line when `truncated`. */
  diff: Type.String(),
  truncated: Type.Boolean(),
});
export type JobDiff = Static<typeof JobDiff>;

export const JobList = Type.Object({ jobs: Type.Array(Job), total: Type.Integer() });
export type JobList = Static<typeof JobList>;

export const JobListQuery = Type.Object(
  {
    repo_id: Type.Optional(Type.String({ maxLength: 200 })),
    status: Type.Optional(JobStatus),
    runner_id: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);

export const JobLogsQuery = Type.Object(
  {
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 * 1024 * 1024, default: 1024 * 1024 })),
    follow: Type.Optional(Type.Boolean({ default: false, description: 'Stream text/plain from offset until the job has finished.' })),
  },
  { additionalProperties: false },
);

export const JobLogs = Type.Object({
  job_id: Type.String(),
  offset: Type.Integer(),
  next_offset: Type.Integer(),
  content: Type.String(),
  truncated: Type.Boolean(),
  /** The job has finished and every byte of its log has been returned. */
  complete: Type.Boolean(),
});
export type JobLogs = Static<typeof JobLogs>;

// ---- runners ------------------------------------------------------------------------------

export const RunnerInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  labels: Type.Array(Type.String()),
  status: Type.String(),
  pool_id: Nullable(Type.String()),
  hostname: Nullable(Type.String()),
  version: Nullable(Type.String()),
  sandbox: Nullable(
    Type.String({
      description: "The wall around the runner's jobs: bubblewrap, container (the runner's own container), none (unsandboxed), or null (not said).",
    }),
  ),
  /** The named agents it can run besides `shell` (found on its PATH or declared). */
  agents: Type.Array(Type.String()),
  registered_at: Type.String(),
  last_seen_at: Type.String(),
  current_job_id: Nullable(Type.String()),
});
export type RunnerInfo = Static<typeof RunnerInfo>;

export const RunnerList = Type.Object({ runners: Type.Array(RunnerInfo), total: Type.Integer({ description: 'All listed runners, not only this page.' }) });
export const RunnerListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  },
  { additionalProperties: false },
);
export type RunnerList = Static<typeof RunnerList>;

export const RunnersStatus = Type.Object({
  total_runners: Type.Integer(),
  idle_runners: Type.Integer(),
  busy_runners: Type.Integer(),
  draining_runners: Type.Integer(),
  offline_runners: Type.Integer(),
  queued_jobs: Type.Integer(),
  running_jobs: Type.Integer(),
});
export type RunnersStatus = Static<typeof RunnersStatus>;

export const DockerCommandQuery = Type.Object(
  {
    with_secrets: Type.Optional(Type.Boolean({ default: false, description: 'Put the real registration token into the command instead of a placeholder.' })),
    labels: Type.Optional(Type.String({ maxLength: 4096, description: 'Labels the runner offers jobs, comma-separated (`gpu,os=linux`).' })),
  },
  { additionalProperties: false },
);
export const DockerEnvVar = Type.Object({
  name: Type.String(),
  value: Type.String({ description: 'The value, or its placeholder `<NAME>` when secrets were not asked for.' }),
  secret: Type.Boolean({ description: 'A token or key: replaced by a placeholder unless with_secrets=true.' }),
});
export const DockerRunLine = Type.Object({
  command: Type.String({ description: 'One `docker run` line for a POSIX shell, its values quoted.' }),
  lines: Type.Array(Type.String(), {
    description:
      'The same command in argument groups (a flag with its value), to show one per line joined by ` \\` continuations: no line break falls inside a word.',
  }),
  server_url: Type.String({ description: 'The URL the runner reaches the server at (LAZYAF_SERVER).' }),
  env_vars: Type.Array(DockerEnvVar),
});
export const DockerCommand = Type.Object({
  command: DockerRunLine.properties.command,
  lines: DockerRunLine.properties.lines,
  server_url: DockerRunLine.properties.server_url,
  image: Type.String({ description: 'The runner image the command runs: it must be on the machine that runs the command, pulled or built there.' }),
  env_vars: Type.Array(DockerEnvVar),
  local_only: Type.Boolean({ description: "The server URL is this machine's loopback: the command works only on the machine the server runs on." }),
  elsewhere: Type.Union([DockerRunLine, Type.Null()], {
    description:
      'When `local_only`: the command for another machine, with an address of this one from its network interfaces (the server listens beyond loopback).',
  }),
  elsewhere_hint: Type.Union([Type.String(), Type.Null()], {
    description: 'When `local_only`: what to know about `elsewhere`, or why there is none (the server listens on loopback only) and how to change it.',
  }),
});
export type DockerRunLine = Static<typeof DockerRunLine>;
export type DockerEnvVar = Static<typeof DockerEnvVar>;
export type DockerCommand = Static<typeof DockerCommand>;

// ---- pool ---------------------------------------------------------------------------------

export const PoolState = Type.Object({
  desired: Type.Integer(),
  launcher: Type.String(),
  /** Each runner takes one job and is replaced by a fresh one (LAZYAF_EPHEMERAL=1). */
  ephemeral: Type.Boolean(),
  running: Type.Integer(),
  draining: Type.Integer(),
});
export type PoolState = Static<typeof PoolState>;

export const ScalePool = Type.Object({ desired: Type.Integer({ minimum: 0, maximum: 256 }) }, { additionalProperties: false });

// ---- secrets (`/api/secrets`): values go in, never out ---------------------------------------

export const SecretParams = Type.Object({ name: Type.String({ pattern: SECRET_NAME_RE.source, description: 'As an environment variable: A-Z, 0-9, _.' }) });
/** `?repo=R` (id or name): the secret of that repo only; without it, the one for every repo. */
export const SecretScope = Type.Object({ repo: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }, { additionalProperties: false });
export type SecretScope = Static<typeof SecretScope>;
export const SetSecret = Type.Object({ value: Type.String({ minLength: 1, maxLength: MAX_SECRET_CHARS }) }, { additionalProperties: false });
export type SetSecret = Static<typeof SetSecret>;
export const SecretInfo = Type.Object({
  name: Type.String(),
  /** Null: for every repo. */
  repo_id: Type.Union([Type.String(), Type.Null()]),
  repo_name: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
  updated_at: Type.String(),
});
export type SecretInfo = Static<typeof SecretInfo>;
export const SecretList = Type.Object({ secrets: Type.Array(SecretInfo) });
export type SecretList = Static<typeof SecretList>;

// ---- web sessions (`/api/session`) -----------------------------------------------------------

/** `POST /api/session`: the admin token, or the code of a one-time sign-in link. */
export const SignIn = Type.Object(
  {
    token: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    code: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type SignIn = Static<typeof SignIn>;

/** `GET`/`POST /api/session`: whether this browser is signed in, and the CSRF token its writes carry. */
export const SessionState = Type.Object({
  signed_in: Type.Boolean(),
  csrf_token: Type.Union([Type.Null(), Type.String()]),
});
export type SessionState = Static<typeof SessionState>;

/** `POST /api/session/links` (admin): a fresh one-time sign-in link. */
export const SignInLink = Type.Object({ url: Type.String(), expires_at: Type.String() });
export type SignInLink = Static<typeof SignInLink>;

/** `DELETE /api/sessions` (admin): every browser signed out; how many sessions there were. */
export const SessionsEnded = Type.Object({ ended: Type.Integer({ minimum: 0 }) });
export type SessionsEnded = Static<typeof SessionsEnded>;

// ---- live events (`GET /api/events`) ----------------------------------------------------------

/**
 * Each event names what changed and carries enough to update a view or know what to fetch: the
 * SSE `event:` field is its `type`, the `data:` line the whole object. The server emits only
 * `LiveEvent`s, after the change is committed.
 */
export const JobCreatedEvent = Type.Object({ type: Type.Literal('job.created'), job_id: Type.String(), repo_id: Type.String(), status: JobStatus });
export const JobUpdatedEvent = Type.Object({ type: Type.Literal('job.updated'), job_id: Type.String(), repo_id: Type.String(), status: JobStatus });
export const AttemptStartedEvent = Type.Object({
  type: Type.Literal('attempt.started'),
  attempt_id: Type.String(),
  job_id: Type.String(),
  runner_id: Type.String(),
  number: Type.Integer({ minimum: 1 }),
});
export const AttemptEndedEvent = Type.Object({
  type: Type.Literal('attempt.ended'),
  attempt_id: Type.String(),
  job_id: Type.String(),
  runner_id: Type.String(),
  reason: AttemptEndReason,
});
/** The job's log grew to `log_bytes`: read `/api/jobs/{id}/logs?offset=` from where you were. */
export const LogAppendedEvent = Type.Object({ type: Type.Literal('log.appended'), job_id: Type.String(), log_bytes: Type.Integer({ minimum: 0 }) });
export const RunnerRegisteredEvent = Type.Object({ type: Type.Literal('runner.registered'), runner_id: Type.String(), name: Type.String() });
export const RunnerUpdatedEvent = Type.Object({
  type: Type.Literal('runner.updated'),
  runner_id: Type.String(),
  status: RunnerStatus,
  /** The job it just took, on a move to busy. */
  job_id: Type.Optional(Type.String()),
});
/** Deregistered, revoked, or pruned after being offline too long. */
export const RunnerRemovedEvent = Type.Object({ type: Type.Literal('runner.removed'), runner_id: Type.String() });
export const PoolUpdatedEvent = Type.Object({ type: Type.Literal('pool.updated'), ...PoolState.properties });
export const RepoEvent = Type.Object({
  type: Type.Union([Type.Literal('repo.created'), Type.Literal('repo.updated'), Type.Literal('repo.deleted')]),
  repo_id: Type.String(),
  name: Type.String(),
});
export const BranchesUpdatedEvent = Type.Object({
  type: Type.Literal('branches.updated'),
  repo_id: Type.String(),
  /** Who pushed: a person (admin token) or a job. */
  by: Type.Union([Type.Literal('admin'), Type.Literal('job')]),
  branches: Type.Array(Type.Object({ name: Type.String(), commit: Type.String() })),
});

/** An agent's transcript grew: the new entries, in order (`/api/jobs/{id}/transcript?after=` fills a gap). */
export const TranscriptAppendedEvent = Type.Object({
  type: Type.Literal('transcript.appended'),
  job_id: Type.String(),
  attempt: Type.Integer({ minimum: 1 }),
  entries: Type.Array(StoredTranscriptEntry),
});

export const LiveEvent = Type.Union([
  JobCreatedEvent,
  JobUpdatedEvent,
  AttemptStartedEvent,
  AttemptEndedEvent,
  LogAppendedEvent,
  RunnerRegisteredEvent,
  RunnerUpdatedEvent,
  RunnerRemovedEvent,
  PoolUpdatedEvent,
  RepoEvent,
  BranchesUpdatedEvent,
  TranscriptAppendedEvent,
]);
export type LiveEvent = Static<typeof LiveEvent>;
