/**
 * The runner protocol's version, size limits and routes: the part of protocol.ts (which declares
 * the messages and re-exports this) that needs no typebox, so that the runner's bundle reads them
 * without building every schema at start. Bump PROTOCOL_VERSION on every change to a message.
 */
export const PROTOCOL_VERSION = 7;

/** The most bytes of an attempt's session files (a gzipped tar) the server takes: 413 past it. */
export const MAX_SESSION_BYTES = 32 * 1024 * 1024;

/** The most characters of a parent conversation's summary that a follow-up gets in its prompt. */
export const MAX_PARENT_SUMMARY_BYTES = 8 * 1024;

/**
 * Where each call lives, as the server's routes declare them (`:attempt_id` is the attempt's id). Auth: register takes the registration token; heartbeat, poll and
 * deregister the runner token; logs and complete the attempt's job token. 401 = unknown token,
 * 409 = the lease is gone (for job-token calls) or the runner is draining/revoked; 422 on
 * complete = the reported commit is not on the job's branch on the server (push it first); 429 on
 * register = too many registrations at once, retry after `Retry-After` seconds.
 */
export const RunnerRoutePaths = {
  register: '/api/runners/register',
  heartbeat: '/api/runners/heartbeat',
  poll: '/api/runners/poll',
  deregister: '/api/runners/deregister',
  logs: '/api/runners/attempts/:attempt_id/logs',
  complete: '/api/runners/attempts/:attempt_id/complete',
  /** POST a TranscriptBatch (job token); answered with a LogAck. */
  transcript: '/api/runners/attempts/:attempt_id/transcript',
  /**
   * PUT (job token, `application/gzip`): the agent's session files after the run, a gzipped
   * tar of at most MAX_SESSION_BYTES (413 past it); 204. GET (the job token of the attempt that
   * resumes, and only for the attempt its assignment names in `agent_run.resume`; else 403):
   * those files; 404 when there are none.
   */
  session: '/api/runners/attempts/:attempt_id/session',
} as const;

const ofAttempt =
  (path: string) =>
  (attemptId: string): string =>
    path.replace(':attempt_id', encodeURIComponent(attemptId));

/** The URLs a runner calls: RunnerRoutePaths, with an attempt's id in place of `:attempt_id`. */
export const RunnerRoutes = {
  register: RunnerRoutePaths.register,
  heartbeat: RunnerRoutePaths.heartbeat,
  poll: RunnerRoutePaths.poll,
  deregister: RunnerRoutePaths.deregister,
  logs: ofAttempt(RunnerRoutePaths.logs),
  complete: ofAttempt(RunnerRoutePaths.complete),
  transcript: ofAttempt(RunnerRoutePaths.transcript),
  session: ofAttempt(RunnerRoutePaths.session),
} as const;
