import { Type, type Static } from 'typebox';
import { CheckResult, ResolvedEnvironment, SetupReport } from './environment.js';
import { AGENT_NAME_RE, LABEL_RE, MAX_AGENTS, MAX_LABELS, MODEL_RE, NAME_RE, POOL_ID_RE } from './names.js';
import { JOB_STATUSES, SHELL_AGENT } from './job-status.js';
import { NullableInteger } from './nullable.js';
import { MAX_PARENT_SUMMARY_BYTES } from './protocol-routes.js';
import { TranscriptEntry, Usage } from './transcript.js';

/**
 * The runner protocol, declared once: the server's routes validate with these schemas and the
 * runner's client sends and reads them. Bump PROTOCOL_VERSION on every change to a message.
 *
 * Lifecycle of a runner:
 *   register (registration token) → runner id + runner token
 *   loop: heartbeat (runner token) on its own timer, idle or busy; it renews the leases of the
 *         attempts the runner names, and is held open up to `wait_ms` so a cancel reaches the
 *         runner at once.
 *   loop while idle: poll (runner token), held open up to `wait_ms`; 200 = an assignment, 204 = none.
 *   per assignment, with the attempt's job token (which is also its git password):
 *         logs (chunks numbered from 1; a resent number is ignored), then complete. Whatever the
 *         outcome (succeeded, failed, timeout, cancelled), the runner first commits and pushes
 *         what the command left to the job branch and names that commit in `complete`, so no
 *         work is lost. A cancel reaches the runner through a heartbeat: the attempt stays live
 *         (its token works) for the server's cancel grace, while the runner stops the command,
 *         pushes what it left and completes with `cancelled`; after the grace the server ends it.
 *         An agent job (an assignment with `agent_run`, since protocol 5) also sends its
 *         transcript entries (batches numbered from 1, like logs) and reports its usage and its
 *         conversation's session id with `complete`. Since protocol 6 it uploads the agent's
 *         session files before completing (PUT session), and a follow-up that resumes one fetches
 *         the files of the attempt its assignment names (GET session, with its own job token).
 *         Since protocol 7 an assignment may carry the repo's `environment`: the runner runs its
 *         setup (or restores its cache) before the command, its checks after it, and reports both
 *         with `complete`; an `environment_error` is one line in the log and a failed attempt.
 *   deregister (runner token) when it stops.
 * A job token works only while its attempt holds a live lease: once the lease expired, the
 * attempt completed or the server ended it (a cancel's grace ran out), every write with it is
 * refused with 409. A cancel alone does not end it: the runner's report within the grace counts.
 */
// The version, the size limits and the routes live in protocol-routes.ts, which needs no typebox:
// the runner's bundle loads them without building a schema (ARCHITECTURE.md, "A lean runner").
export * from './protocol-routes.js';

export const RunnerStatus = Type.Union([Type.Literal('idle'), Type.Literal('busy'), Type.Literal('draining'), Type.Literal('offline')]);
export type RunnerStatus = Static<typeof RunnerStatus>;

export const Label = Type.String({ pattern: LABEL_RE.source });
export const Labels = Type.Array(Label, { maxItems: MAX_LABELS });

/** bubblewrap: each job in its own sandbox; container: the runner's container is the jobs' wall (since protocol 3); none: unsandboxed. */
export const RunnerSandbox = Type.Union([Type.Literal('bubblewrap'), Type.Literal('container'), Type.Literal('none')]);
export type RunnerSandbox = Static<typeof RunnerSandbox>;

export const RegisterRequest = Type.Object(
  {
    name: Type.String({ pattern: NAME_RE.source }),
    labels: Type.Optional(Labels),
    hostname: Type.Optional(Type.String({ maxLength: 255 })),
    version: Type.Optional(Type.String({ maxLength: 50 })),
    protocol_version: Type.Integer({ minimum: 1 }),
    pool_id: Type.Optional(
      Type.String({ pattern: POOL_ID_RE.source, description: 'Set by the pool launcher for the runners it manages; hand-started runners leave it out.' }),
    ),
    sandbox: Type.Optional(
      Type.With(RunnerSandbox, {
        description: 'The wall the runner puts around its jobs (since protocol 2): shown to admins, so unsandboxed runners stand out.',
      }),
    ),
    agents: Type.Optional(
      Type.Array(Type.String({ pattern: AGENT_NAME_RE.source }), {
        maxItems: MAX_AGENTS,
        description: `The named agents this runner can run (since protocol 4): found on its PATH at start, or declared. A job for agent \`claude\` goes only to runners listing \`claude\`; \`${SHELL_AGENT}\` is implied.`,
      }),
    ),
  },
  { additionalProperties: false },
);
export type RegisterRequest = Static<typeof RegisterRequest>;

export const RegisterResponse = Type.Object({
  runner_id: Type.String(),
  token: Type.String(),
  lease_ttl_ms: Type.Integer(),
  heartbeat_interval_ms: Type.Integer(),
  poll_wait_ms: Type.Integer(),
  protocol_version: Type.Integer(),
});
export type RegisterResponse = Static<typeof RegisterResponse>;

export const HeartbeatRequest = Type.Object(
  {
    // Offline is the server's word for a runner it stopped hearing from.
    status: Type.Exclude(RunnerStatus, Type.Literal('offline')),
    attempts: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 16, description: 'The attempts this runner is working on; their leases are renewed.' }),
    wait_ms: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 60_000, description: 'Hold the answer up to this long unless there is news (a cancel) for the runner.' }),
    ),
  },
  { additionalProperties: false },
);
export type HeartbeatRequest = Static<typeof HeartbeatRequest>;

export const HeartbeatResponse = Type.Object({
  cancel: Type.Array(Type.String(), {
    description:
      "Attempts whose jobs were cancelled: stop the command now, push what it left and complete with `cancelled`. The attempt stays live (its job token works) for the server's cancel grace; one the server already ended, after that grace, is listed here too, and its report is refused.",
  }),
  lost: Type.Array(Type.String(), {
    description: "Attempts whose lease is gone (expired, past the job's timeout plus the server's grace, or ended): stop them; nothing they report will count.",
  }),
  lease_expires_in_ms: Type.Integer(),
});
export type HeartbeatResponse = Static<typeof HeartbeatResponse>;

export const PollRequest = Type.Object(
  {
    wait_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
  },
  { additionalProperties: false },
);
export type PollRequest = Static<typeof PollRequest>;

/**
 * How to run a built-in agent through its adapter (shared/agents/): the runner builds the
 * agent's command line, environment and config files itself, parses its event stream into a
 * transcript, and reports usage and its session id.
 */
const AgentEnv = Type.Record(Type.String({ pattern: '^[A-Z_][A-Z0-9_]{0,127}$' }), Type.String({ maxLength: 64 * 1024 }));

export const AgentRun = Type.Object({
  name: Type.String({ pattern: AGENT_NAME_RE.source }),
  model: Type.Union([Type.Null(), Type.String({ pattern: MODEL_RE.source })], { description: "The model to ask for, or null for the agent's own default." }),
  env: Type.With(AgentEnv, {
    description:
      "This job's credentials and endpoint settings for this agent, and nothing else: the server holds them (its environment, `lazyaf secrets`), the runner's environment holds none. Every value is redacted from what the runner sends back.",
  }),
  resume: Type.Union([Type.Null(), Type.Object({ session_id: Type.String({ maxLength: 200 }), attempt_id: Type.String({ maxLength: 64 }) })], {
    description: 'The conversation to continue (a follow-up by the same agent), or null for a new one.',
  }),
  parent_conversation: Type.Optional(
    Type.Object(
      {
        summary: Type.String({ maxLength: MAX_PARENT_SUMMARY_BYTES }),
        unavailable: Type.Union([Type.Null(), Type.String({ maxLength: 1000 })]),
      },
      {
        description:
          "A follow-up meant to continue its parent's conversation (since protocol 6): the parent's transcript in a few lines, which the agent gets after its prompt whenever the conversation cannot be resumed (no session files, they cannot be restored, the agent does not find the session), and why the server has none to resume when `resume` is null.",
      },
    ),
  ),
});
export type AgentRun = Static<typeof AgentRun>;

const CommitSha = Type.String({ pattern: '^[0-9a-f]{40}([0-9a-f]{24})?$' });

export const Assignment = Type.Object({
  job_id: Type.String(),
  attempt_id: Type.String(),
  attempt: Type.Integer(),
  job_token: Type.String({ description: "Password for git (HTTP Basic, any user) and bearer token for this attempt's logs and completion." }),
  repo_id: Type.String(),
  clone_url: Type.String(),
  title: Type.String(),
  description: Type.String(),
  base_branch: Type.String(),
  base_commit: Type.Optional(
    Type.With(CommitSha, {
      description:
        "The commit the job starts from (since protocol 5; absent when the server could not read it): the base branch's at the claim, or for a task's candidate the one of the task's submit. A runner whose repo cache holds exactly that commit for the branch skips its fetch; after a fetch it starts from it when the fetch brought it, else from the branch as fetched.",
    }),
  ),
  branch: Type.String(),
  agent: Type.String(),
  command: Type.String({ description: `The shell command to run in the workspace: the job's own for \`${SHELL_AGENT}\`, else the agent's template.` }),
  prompt: Type.String(),
  agent_run: Type.Optional(
    Type.With(AgentRun, { description: 'Set for a built-in agent run through its adapter (since protocol 5); else `command` runs under `sh -c`.' }),
  ),
  agent_env: Type.Optional(
    Type.With(AgentEnv, {
      description:
        "For an agent run from a command template (aider, one of `<data>/agents.json`; since protocol 6): the credentials and endpoint settings the server holds for agents, added to the command's environment and redacted like `agent_run.env`.",
    }),
  ),
  environment: Type.Optional(
    Type.With(ResolvedEnvironment, {
      description:
        "The repo's environment (since protocol 7): `.lazyaf.yml` at the base commit with the server's override, secrets as values. Absent when the repo declares none.",
    }),
  ),
  environment_error: Type.Optional(
    Type.String({
      maxLength: 2000,
      description:
        "Why the repo's environment could not be read (since protocol 7): the runner writes it as one line in the log and fails the attempt without running anything.",
    }),
  ),
  timeout_ms: Type.Integer(),
  lease_expires_in_ms: Type.Integer(),
});
export type Assignment = Static<typeof Assignment>;

export const LogChunk = Type.Object(
  {
    seq: Type.Integer({ minimum: 1, description: '1, 2, 3, ... per attempt: a chunk resent after a network error carries its old number.' }),
    data: Type.String({ maxLength: 512 * 1024 }),
  },
  { additionalProperties: false },
);
export type LogChunk = Static<typeof LogChunk>;

export const LogAck = Type.Object({
  accepted: Type.Boolean(),
  truncated: Type.Boolean({ description: "The job's log reached its cap: further output is dropped, so the runner may stop sending." }),
});
export type LogAck = Static<typeof LogAck>;

/**
 * The most bytes of JSON one TranscriptBatch may take (413 past it): 200 entries at their full
 * size would be far more, so the runner cuts a batch by size as well as by count.
 */
export const MAX_TRANSCRIPT_BATCH_BYTES = 4 * 1024 * 1024;

/** Transcript entries of an agent job, numbered per batch like log chunks: a resent batch is ignored. */
export const TranscriptBatch = Type.Object(
  {
    seq: Type.Integer({ minimum: 1 }),
    entries: Type.Array(TranscriptEntry, { minItems: 1, maxItems: 200 }),
  },
  { additionalProperties: false },
);
export type TranscriptBatch = Static<typeof TranscriptBatch>;

export const AttemptEndReason = Type.Union([
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('lost'),
  Type.Literal('timeout'),
  Type.Literal('cancelled'),
  /** The runner gave the job back (second SIGTERM): it goes back to the queue. */
  Type.Literal('returned'),
]);
export type AttemptEndReason = Static<typeof AttemptEndReason>;

export const CompleteRequest = Type.Object(
  {
    // Lost is the server's word for an attempt whose lease expired.
    outcome: Type.Exclude(AttemptEndReason, Type.Literal('lost')),
    exit_code: Type.Optional(
      Type.With(NullableInteger(), { description: "The command's exit code; null when it did not exit by itself (timeout, cancel) or never ran." }),
    ),
    commit: Type.Optional(
      Type.Union([Type.Null(), CommitSha], {
        description:
          "The commit pushed to `branch`, whatever the outcome (a failed job's work is kept too), or null when the job changed nothing. It must be on the branch on the server (else 422).",
      }),
    ),
    base_commit: Type.Optional(
      Type.Union([Type.Null(), CommitSha], {
        description: "The commit the job's branch started from (the base branch's head when the job began): what its diff is taken against.",
      }),
    ),
    error: Type.Optional(Type.Union([Type.Null(), Type.String({ maxLength: 4000 })])),
    usage: Type.Optional(Type.Union([Type.Null(), Usage], { description: 'An agent job: what its agent reported using (since protocol 5).' })),
    session_id: Type.Optional(
      Type.Union([Type.Null(), Type.String({ maxLength: 200, pattern: '^[A-Za-z0-9._:-]+$' })], {
        description: "An agent job: its conversation's id, which a follow-up resumes (since protocol 5).",
      }),
    ),
    setup: Type.Optional(Type.With(SetupReport, { description: "How the repo's setup went (since protocol 7)." })),
    checks: Type.Optional(
      Type.Array(CheckResult, { maxItems: 20, description: "The repo's checks, run after the command or agent, in order (since protocol 7)." }),
    ),
  },
  { additionalProperties: false },
);
export type CompleteRequest = Static<typeof CompleteRequest>;

/** The job's status once the attempt ended: queued again when it will be retried. */
export const CompleteResponse = Type.Object({ job_status: Type.Enum(JOB_STATUSES) });
export type CompleteResponse = Static<typeof CompleteResponse>;
