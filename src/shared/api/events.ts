import { Type, type Static } from 'typebox';
import { AttemptEndReason, RunnerStatus } from '../protocol.js';
import { JobStatus } from './jobs.js';
import { PoolState } from './pool.js';
import { StoredTranscriptEntry } from './transcript.js';

/**
 * Live events (`GET /api/events`). Each event names what changed and carries enough to update a
 * view or know what to fetch: the SSE `event:` field is its `type`, the `data:` line the whole
 * object. The server emits only `LiveEvent`s, after the change is committed.
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
export const LogAppendedEvent = Type.Object(
  { type: Type.Literal('log.appended'), job_id: Type.String(), log_bytes: Type.Integer({ minimum: 0 }) },
  { description: "The job's log grew to `log_bytes`: read `/api/jobs/{id}/logs?offset=` from where you were." },
);
export const RunnerRegisteredEvent = Type.Object({ type: Type.Literal('runner.registered'), runner_id: Type.String(), name: Type.String() });
export const RunnerUpdatedEvent = Type.Object({
  type: Type.Literal('runner.updated'),
  runner_id: Type.String(),
  status: RunnerStatus,
  job_id: Type.Optional(Type.String({ description: 'The job it just took, on a move to busy.' })),
});
export const RunnerRemovedEvent = Type.Object(
  { type: Type.Literal('runner.removed'), runner_id: Type.String() },
  { description: 'Deregistered, revoked, or pruned after being offline too long.' },
);
export const PoolUpdatedEvent = Type.Object({ type: Type.Literal('pool.updated'), ...PoolState.properties });
export const RepoEvent = Type.Object({
  type: Type.Union([Type.Literal('repo.created'), Type.Literal('repo.updated'), Type.Literal('repo.deleted')]),
  repo_id: Type.String(),
  name: Type.String(),
});
export const BranchesUpdatedEvent = Type.Object({
  type: Type.Literal('branches.updated'),
  repo_id: Type.String(),
  by: Type.Union([Type.Literal('admin'), Type.Literal('job')], { description: 'Who pushed: a person (admin token) or a job.' }),
  branches: Type.Array(Type.Object({ name: Type.String(), commit: Type.String() })),
});

export const TranscriptAppendedEvent = Type.Object(
  {
    type: Type.Literal('transcript.appended'),
    job_id: Type.String(),
    attempt: Type.Integer({ minimum: 1 }),
    entries: Type.Array(StoredTranscriptEntry),
  },
  { description: "An agent's transcript grew: the new entries, in order (`/api/jobs/{id}/transcript?after=` fills a gap)." },
);

export const TaskUpdatedEvent = Type.Object(
  { type: Type.Literal('task.updated'), task_id: Type.String(), repo_id: Type.String() },
  { description: 'A task was created, one of its candidates changed, or its pick was made: read `/api/tasks/{id}`.' },
);
export const CommentsChangedEvent = Type.Object(
  { type: Type.Literal('comments.changed'), job_id: Type.String() },
  { description: "A comment on the job's diff was added, resolved, deleted or sent: read `/api/jobs/{id}/comments`." },
);

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
  TaskUpdatedEvent,
  CommentsChangedEvent,
]);
export type LiveEvent = Static<typeof LiveEvent>;
