import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorBody, IdParams, RunnerList, RunnerListQuery, RunnersStatus, type RunnerInfo } from '../../shared/api.js';
import {
  Assignment,
  CompleteRequest,
  CompleteResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  LogAck,
  LogChunk,
  MAX_SESSION_BYTES,
  MAX_TRANSCRIPT_BATCH_BYTES,
  PollRequest,
  RegisterRequest,
  RegisterResponse,
  RunnerRoutePaths,
  TranscriptBatch,
} from '../../shared/protocol.js';
import { bearerToken } from '../auth.js';
import { hangUpSignal, serverHoldsAnswer } from '../edge.js';
import { ApiError } from '../errors.js';
import type { Dispatcher } from '../queue/dispatcher.js';
import { queueCounts } from '../queue/counts.js';
import { attemptByToken, LEASE_GONE } from '../queue/leases.js';
import type { AttemptFailure, Queue, QueueStores } from '../queue/queue.js';
import { runnerByToken } from '../queue/runner-registry.js';
import type { Redactor } from '../../shared/redact.js';
import type { TokenBucket } from '../rate-limit.js';
import { tokenMatches } from '../secrets.js';
import type { SessionFiles } from '../session-files.js';
import type { AttemptRow } from '../store/attempts.js';
import type { RunnerRow } from '../store/runners.js';
import { cloneUrlFor } from './clone-url.js';

export interface RunnerRoutesOptions {
  queue: Queue;
  store: QueueStores;
  dispatcher: Dispatcher;
  registrationToken: string;
  publicUrl?: string;
  /** Registrations are rate-limited: each one is a row, and a leaked registration token must not fill the table. */
  registrations: TokenBucket;
  /**
   * Hides every credential the server holds from what a job sends: a second net behind the
   * runner's own redaction (a runner of an older version, a value the job got another way).
   */
  redactor: () => Redactor;
  /** Where agents' session files are kept (RunnerRoutePaths.session). */
  sessionFiles: SessionFiles;
}

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody };
const AttemptParams = Type.Object({ attempt_id: Type.String({ minLength: 1, maxLength: 64 }) });

function unauthorized(reply: FastifyReply, message: string): never {
  reply.header('WWW-Authenticate', 'Bearer realm="lazyaf"');
  throw new ApiError(401, message);
}

export function runnerToApi(r: RunnerRow, currentJobId: string | null): RunnerInfo {
  return {
    id: r.id,
    name: r.name,
    labels: JSON.parse(r.labels) as string[],
    status: r.status,
    pool_id: r.pool_id,
    hostname: r.hostname,
    version: r.version,
    sandbox: r.sandbox,
    agents: JSON.parse(r.agents) as string[],
    registered_at: r.registered_at,
    last_seen_at: new Date(r.last_seen_ms).toISOString(),
    current_job_id: currentJobId,
  };
}

/** A place in the runner list: after this runner, in its order (registered_at, then id, both descending). Opaque to clients. */
function encodeCursor(r: Pick<RunnerRow, 'registered_at' | 'id'>): string {
  return Buffer.from(JSON.stringify([r.registered_at, r.id])).toString('base64url');
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/** The runner a cursor names; anything that is not a cursor this server made is a 400. */
function decodeCursor(cursor: string): { registered_at: string; id: string } {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || value.length !== 2) throw new ApiError(400, 'invalid cursor: pass the `next` of a page as it came');
  const [at, id] = value as unknown[];
  if (typeof at !== 'string' || !ISO_TIME.test(at) || typeof id !== 'string' || id.length === 0 || id.length > 64) {
    throw new ApiError(400, 'invalid cursor: pass the `next` of a page as it came');
  }
  return { registered_at: at, id };
}

/** The runner protocol (see src/shared/protocol.ts) and the admin's view of the runners. */
export async function runnerRoutes(fastify: FastifyInstance, opts: RunnerRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { queue, store, dispatcher } = opts;
  const custom = { auth: 'custom' as const };
  // Heartbeats, polls and log chunks are the runners' steady traffic: logged only when they go wrong.

  // What each request's token was found to be in its onRequest check, for its handler: one token
  // lookup (a hash and a query) per request, not two. The row read then may be a little old by the
  // handler's turn (the body was read in between), so what acts on it is fenced in SQL: a claim
  // marks its runner busy only while it is not revoked, a log chunk is taken only while its attempt
  // is live, and a completion reads its attempt again inside its transaction.
  const checked = new WeakMap<FastifyRequest, RunnerRow | AttemptRow>();

  const runnerOf = (req: FastifyRequest, reply: FastifyReply): RunnerRow => {
    const known = checked.get(req) as RunnerRow | undefined;
    if (known) return known;
    const token = bearerToken(req);
    const runner = token ? runnerByToken(store.runners, token) : undefined;
    if (!runner) unauthorized(reply, token ? 'unknown or revoked runner token' : 'missing bearer token (the runner token)');
    checked.set(req, runner);
    return runner;
  };
  // The runner its token named when the request came (runnerAuth): a heartbeat or a poll then
  // reads it again by id, not by hashing the token once more, and sees a revocation since.
  const authorized = new WeakMap<FastifyRequest, RunnerRow>();
  const currentRunner = (req: FastifyRequest, reply: FastifyReply): RunnerRow => {
    const known = authorized.get(req);
    const runner = known ? store.runners.get(known.id) : runnerOf(req, reply);
    return runner && !runner.revoked ? runner : unauthorized(reply, 'unknown or revoked runner token');
  };

  /** The attempt of a job token. Any token but the attempt's own is 401; a lease that is gone is 409. */
  const attemptOf = (req: FastifyRequest, reply: FastifyReply, attemptId: string, allowEnded = false): AttemptRow => {
    let attempt = checked.get(req) as AttemptRow | undefined;
    if (!attempt) {
      const token = bearerToken(req);
      attempt = token ? attemptByToken(store.attempts, token) : undefined;
      if (!attempt || attempt.id !== attemptId) unauthorized(reply, 'invalid job token for this attempt');
      checked.set(req, attempt);
    }
    if (!allowEnded && !queue.isLive(attempt)) throw new ApiError(409, LEASE_GONE);
    return attempt;
  };

  // The runner is revoked all the same; the sweeper ends these attempts once their leases run out.
  const logUnended = (req: FastifyRequest, failed: AttemptFailure[]): void => {
    for (const f of failed) req.log.error({ attempt: f.attempt_id, err: f.error }, 'could not end the attempt of a leaving runner');
  };
  // Each call's token is checked in onRequest, before its body is read (the handler checks again
  // against the state it acts on): a client without one cannot make the server read a body.
  const registrationAuth = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!tokenMatches(bearerToken(req), opts.registrationToken)) unauthorized(reply, 'invalid registration token');
  };
  const runnerAuth = async (req: FastifyRequest, reply: FastifyReply) => void authorized.set(req, runnerOf(req, reply));
  // Poll and heartbeat hold their answer open by design, bounded by their own waits.
  const longPollAuth = [runnerAuth, serverHoldsAnswer];
  const attemptAuth = (allowEnded: boolean) => async (req: FastifyRequest, reply: FastifyReply) =>
    void attemptOf(req, reply, (req.params as { attempt_id: string }).attempt_id, allowEnded);

  app.post(
    RunnerRoutePaths.register,
    {
      config: custom,
      onRequest: registrationAuth,
      schema: {
        summary: 'Register a runner',
        tags: ['runner protocol'],
        body: RegisterRequest,
        response: { 201: RegisterResponse, 429: ErrorBody, ...errors },
      },
    },
    async (req, reply) => {
      if (!tokenMatches(bearerToken(req), opts.registrationToken)) unauthorized(reply, 'invalid registration token');
      const wait = opts.registrations.take();
      if (wait > 0) {
        reply.header('Retry-After', String(wait));
        throw new ApiError(429, `too many runner registrations; retry in ${wait} s`);
      }
      return reply.code(201).send(dispatcher.register(req.body));
    },
  );

  app.post(
    RunnerRoutePaths.heartbeat,
    {
      config: custom,
      onRequest: longPollAuth,
      logLevel: 'warn',
      schema: {
        summary: 'Say a runner is alive, renew its leases and hear of cancels',
        tags: ['runner protocol'],
        body: HeartbeatRequest,
        response: { 200: HeartbeatResponse, ...errors },
      },
    },
    async (req, reply) => {
      // Its row from the token check: the heartbeat's own write finds a runner revoked since.
      const runner = authorized.get(req) ?? runnerOf(req, reply);
      return (await dispatcher.heartbeat(runner, req.body, () => hangUpSignal(reply))) ?? unauthorized(reply, 'unknown or revoked runner token');
    },
  );

  app.post(
    RunnerRoutePaths.poll,
    {
      config: custom,
      onRequest: longPollAuth,
      logLevel: 'warn',
      schema: {
        summary: 'Wait for a job to run',
        tags: ['runner protocol'],
        body: Type.Optional(PollRequest),
        response: { 200: Assignment, 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      const runner = currentRunner(req, reply);
      const assignment = await dispatcher.poll(runner, req.body?.wait_ms, hangUpSignal(reply), (repoId) => cloneUrlFor(req, repoId, opts.publicUrl));
      return assignment ?? reply.code(204).send(null);
    },
  );

  app.post(
    RunnerRoutePaths.deregister,
    { config: custom, onRequest: runnerAuth, schema: { summary: 'Deregister a runner', tags: ['runner protocol'], response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      logUnended(req, queue.deregister(runnerOf(req, reply)));
      return reply.code(204).send(null);
    },
  );

  app.post(
    RunnerRoutePaths.logs,
    {
      config: custom,
      onRequest: attemptAuth(false),
      logLevel: 'warn',
      bodyLimit: 2 * 1024 * 1024,
      schema: { summary: "Append to an attempt's log", tags: ['runner protocol'], params: AttemptParams, body: LogChunk, response: { 200: LogAck, ...errors } },
    },
    async (req, reply) => {
      const attempt = attemptOf(req, reply, req.params.attempt_id);
      const redactor = opts.redactor();
      return queue.appendLog(attempt, req.body.seq, redactor.redact(req.body.data), redactor);
    },
  );

  app.post(
    RunnerRoutePaths.transcript,
    {
      config: custom,
      onRequest: attemptAuth(false),
      logLevel: 'warn',
      bodyLimit: MAX_TRANSCRIPT_BATCH_BYTES,
      schema: {
        summary: "Append to an agent attempt's transcript",
        tags: ['runner protocol'],
        params: AttemptParams,
        body: TranscriptBatch,
        response: { 200: LogAck, ...errors },
      },
    },
    async (req, reply) => {
      const attempt = attemptOf(req, reply, req.params.attempt_id);
      // Like log chunks: the server hides every credential value it holds, whatever the runner did.
      return store.transcripts.append(attempt, req.body.seq, opts.redactor().redactEntry(req.body.entries));
    },
  );

  // Session files are a gzipped tar the server keeps as it came: read whole up to the cap (a 413
  // past it, from the length it announces if it does), never unpacked here.
  app.addContentTypeParser('application/gzip', { parseAs: 'buffer', bodyLimit: MAX_SESSION_BYTES }, (_req, body, done) => done(null, body));

  app.put(
    RunnerRoutePaths.session,
    {
      config: custom,
      onRequest: attemptAuth(false),
      logLevel: 'warn',
      bodyLimit: MAX_SESSION_BYTES,
      schema: {
        summary: "Upload an agent attempt's session files",
        tags: ['runner protocol'],
        params: AttemptParams,
        response: { 204: Type.Null(), 413: ErrorBody, ...errors },
      },
    },
    async (req, reply) => {
      const attempt = attemptOf(req, reply, req.params.attempt_id);
      const body = req.body;
      if (!Buffer.isBuffer(body) || body[0] !== 0x1f || body[1] !== 0x8b) throw new ApiError(400, 'session files are a gzipped tar, sent as application/gzip');
      opts.sessionFiles.write(store.jobs.get(attempt.job_id)!.repo_id, attempt.id, body);
      if (!store.attempts.setSessionBytes(attempt.id, body.length)) throw new ApiError(409, 'the attempt ended while its session files came');
      return reply.code(204).send(null);
    },
  );

  // Another attempt's files, for the attempt that resumes them: its own job token, live, and only
  // the attempt its assignment named. Any other job's token, however live, gets nothing.
  const resumerAuth = async (req: FastifyRequest, reply: FastifyReply) => {
    const token = bearerToken(req);
    const resumer = token ? attemptByToken(store.attempts, token) : undefined;
    if (!resumer) unauthorized(reply, 'invalid job token');
    if (!queue.isLive(resumer)) throw new ApiError(409, LEASE_GONE);
    if (resumer.resume_from !== (req.params as { attempt_id: string }).attempt_id) throw new ApiError(403, "this job does not resume that attempt's session");
  };
  app.get(
    RunnerRoutePaths.session,
    {
      config: custom,
      onRequest: resumerAuth,
      logLevel: 'warn',
      schema: {
        summary: 'Fetch the session files a follow-up resumes',
        tags: ['runner protocol'],
        params: AttemptParams,
        response: { 200: Type.Unsafe<NodeJS.ReadableStream>({ type: 'string', format: 'binary', description: 'the gzipped tar' }), 403: ErrorBody, ...errors },
      },
    },
    async (req, reply) => {
      const source = store.attempts.get(req.params.attempt_id);
      const job = source && store.jobs.get(source.job_id);
      const file = job && opts.sessionFiles.open(job.repo_id, source.id);
      if (!file) throw new ApiError(404, 'no session files are kept for that attempt');
      return reply.type('application/gzip').send(file);
    },
  );

  app.post(
    RunnerRoutePaths.complete,
    {
      config: custom,
      onRequest: attemptAuth(true),
      logLevel: 'warn',
      schema: {
        summary: 'Report how an attempt ended',
        tags: ['runner protocol'],
        params: AttemptParams,
        body: CompleteRequest,
        response: { 200: CompleteResponse, ...errors },
      },
    },
    async (req, reply) => {
      const attempt = attemptOf(req, reply, req.params.attempt_id, true);
      return { job_status: await dispatcher.complete(attempt, opts.redactor().redactEntry(req.body)) };
    },
  );

  // ---- admin view ----------------------------------------------------------------------------

  app.get(
    '/api/runners',
    {
      schema: {
        summary: 'List runners, newest first, a page at a time',
        tags: ['runners'],
        description: 'Pass `next` of one page as `cursor` for the next; `status` lists the runners in that state only.',
        querystring: RunnerListQuery,
        response: { 200: RunnerList, ...errors },
      },
    },
    async (req) => {
      const { limit = 100, offset, cursor, status } = req.query;
      if (cursor !== undefined && offset !== undefined) throw new ApiError(400, 'cursor and offset do not mix: page with cursor');
      // One more than asked: whether there is a next page.
      const rows = store.runners.list({ limit: limit + 1, offset, status, after: cursor === undefined ? undefined : decodeCursor(cursor) });
      const page = rows.slice(0, limit);
      const counts = queueCounts(store);
      return {
        // The job of each runner on the page: an indexed read each (attempts by runner and active).
        runners: page.map((r) => runnerToApi(r, store.attempts.activeForRunner(r.id)[0]?.job_id ?? null)),
        total: status ? counts[`${status}_runners`] : counts.total_runners,
        next: rows.length > limit ? encodeCursor(page.at(-1)!) : null,
      };
    },
  );

  app.get(
    '/api/runners/status',
    { schema: { summary: 'Count runners and jobs by status', tags: ['runners'], response: { 200: RunnersStatus, ...errors } } },
    async () => queueCounts(store),
  );

  app.delete(
    '/api/runners/:id',
    {
      schema: {
        summary: 'Revoke a runner',
        tags: ['runners'],
        description: "Revokes a runner's token; a job it holds goes back to the queue.",
        params: IdParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      const runner = store.runners.get(req.params.id);
      if (!runner || runner.revoked) throw new ApiError(404, `runner not found: ${req.params.id}`);
      logUnended(req, queue.deregister(runner));
      return reply.code(204).send(null);
    },
  );
}
