import http from 'node:http';
import https from 'node:https';
import type {
  Assignment,
  CompleteRequest,
  CompleteResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  LogAck,
  LogChunk,
  RegisterRequest,
  RegisterResponse,
  TranscriptBatch,
} from '../shared/protocol.js';
import { RunnerRoutes } from '../shared/protocol-routes.js';
import { answerChecks } from './answer-checks.js';
import { causeOf } from '../shared/fetch-error.js';
import { abortError, backoffDelay, isAbortError, sleep } from './backoff.js';

/** The runner's token stopped working (401, or 409: revoked): register again. */
export class RunnerGoneError extends Error {}
/** The attempt's lease is gone (409, or 401 for a token the server no longer knows): stop the job, report nothing more. */
export class LeaseLostError extends Error {}
/** The server refused the registration token: nothing the runner can fix by retrying. */
export class RegistrationRefusedError extends Error {}
/** Any other answer the runner cannot use (4xx, or a body that does not match the protocol). */
export class ProtocolError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** A failure worth retrying: the server is down, restarting, overloaded or slow. */
class TransientError extends Error {}

export interface CallOptions {
  /** Stops waiting for an answer and stops retrying; an answer that already arrived is still read. */
  signal?: AbortSignal;
  /** Called before each retry, e.g. to note that the server is unreachable. */
  onRetry?: (reason: string, delayMs: number) => void;
}

export interface RunnerClientOptions {
  server: string;
  /** Called when the server becomes unreachable (false) and reachable again (true). */
  onConnectivity?: (reachable: boolean, detail: string) => void;
  /** Limit for a request that is not a long-poll. */
  requestTimeoutMs?: number;
  retryBaseMs?: number;
  retryCapMs?: number;
}

/** Extra time a long-poll gets beyond the wait it asked for before the runner gives up on it. */
const LONG_POLL_MARGIN_MS = 15_000;

/**
 * The runner protocol over HTTP (node:http). Every call retries transient failures (connection refused or
 * reset, timeouts, 5xx, 429) with exponential backoff and full jitter until it gets an answer or
 * its signal aborts, so that a server restart never strands a runner.
 */
export class RunnerClient {
  private readonly server: string;
  private reachable = true;

  constructor(private readonly opts: RunnerClientOptions) {
    this.server = opts.server.replace(/\/+$/, '');
  }

  async register(registrationToken: string, body: RegisterRequest, call: CallOptions = {}): Promise<RegisterResponse> {
    const res = await this.call('POST', RunnerRoutes.register, registrationToken, body, call);
    if (res.status === 401 || res.status === 403) throw new RegistrationRefusedError(`the server refused the registration token (${res.message})`);
    return this.expect(answerChecks.register, res, 'register');
  }

  /** Renews the leases of `attempts`; held open up to `wait_ms` unless there is news. */
  async heartbeat(runnerToken: string, body: HeartbeatRequest, call: CallOptions = {}): Promise<HeartbeatResponse> {
    const res = await this.call('POST', RunnerRoutes.heartbeat, runnerToken, body, call, body.wait_ms);
    runnerGone(res);
    return this.expect(answerChecks.heartbeat, res, 'heartbeat');
  }

  /** Waits up to `waitMs` for an assignment; null when none came. */
  async poll(runnerToken: string, waitMs: number, call: CallOptions = {}): Promise<Assignment | null> {
    const res = await this.call('POST', RunnerRoutes.poll, runnerToken, { wait_ms: waitMs }, call, waitMs);
    if (res.status === 204) return null;
    runnerGone(res);
    return this.expect(answerChecks.assignment, res, 'poll');
  }

  async logs(attemptId: string, jobToken: string, chunk: LogChunk, call: CallOptions = {}): Promise<LogAck> {
    const res = await this.call('POST', RunnerRoutes.logs(attemptId), jobToken, chunk, call);
    leaseLost(res);
    return this.expect(answerChecks.logAck, res, 'logs');
  }

  /** A batch of an agent job's transcript; a server without the route answers 404 (a ProtocolError). */
  async transcript(attemptId: string, jobToken: string, batch: TranscriptBatch, call: CallOptions = {}): Promise<LogAck> {
    const res = await this.call('POST', RunnerRoutes.transcript(attemptId), jobToken, batch, call);
    leaseLost(res);
    return this.expect(answerChecks.logAck, res, 'transcript');
  }

  async complete(attemptId: string, jobToken: string, body: CompleteRequest, call: CallOptions = {}): Promise<CompleteResponse> {
    const res = await this.call('POST', RunnerRoutes.complete(attemptId), jobToken, body, call);
    leaseLost(res);
    return this.expect(answerChecks.complete, res, 'complete');
  }

  /** Uploads an attempt's session files (a gzipped tar). Tried once: a follow-up without them starts afresh, with a summary. */
  async putSession(attemptId: string, jobToken: string, archive: Buffer, call: CallOptions = {}): Promise<void> {
    const res = await this.binary('PUT', RunnerRoutes.session(attemptId), jobToken, archive, 0, call.signal);
    leaseLost(res.answer);
    if (res.answer.status !== 204) throw new ProtocolError(`session: ${res.answer.message}`, res.answer.status);
  }

  /** The session files of the attempt an assignment resumes, at most `maxBytes`. Tried once, like putSession. */
  async getSession(attemptId: string, jobToken: string, maxBytes: number, call: CallOptions = {}): Promise<Buffer> {
    const res = await this.binary('GET', RunnerRoutes.session(attemptId), jobToken, undefined, maxBytes, call.signal);
    leaseLost(res.answer);
    if (res.answer.status !== 200) throw new ProtocolError(`session: ${res.answer.message}`, res.answer.status);
    return res.body;
  }

  /** One call whose body (either way) is bytes, not JSON; the answer is read up to `maxBytes`. */
  private async binary(
    method: string,
    route: string,
    token: string,
    body: Buffer | undefined,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<{ answer: Answer; body: Buffer }> {
    const timeout = AbortSignal.timeout(this.opts.requestTimeoutMs ?? 60_000);
    const res = await request(
      this.server + route,
      method,
      { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/gzip' } : {}) },
      body,
      signal ? AbortSignal.any([signal, timeout]) : timeout,
    );
    if (res.statusCode !== 200) {
      const text = (await readAll(res, Infinity)).toString('utf8');
      return { answer: { status: res.statusCode ?? 0, body: parseJson(text), message: errorMessage(res, text) }, body: Buffer.alloc(0) };
    }
    const all = await readAll(res, maxBytes);
    if (all.length > maxBytes) throw new ProtocolError(`${method} ${route}: more than ${maxBytes} bytes`, res.statusCode);
    return { answer: { status: res.statusCode, body: undefined, message: '' }, body: all };
  }

  /** Leaves the registry; a token the server no longer knows counts as gone already. */
  async deregister(runnerToken: string, call: CallOptions = {}): Promise<void> {
    const res = await this.call('POST', RunnerRoutes.deregister, runnerToken, {}, call);
    if (res.status === 401 || res.status === 409 || (res.status >= 200 && res.status < 300)) return;
    throw new ProtocolError(`deregister: ${res.message}`, res.status);
  }

  private expect<T>(check: (value: unknown) => value is T, res: Answer, what: string): T {
    if (res.status < 200 || res.status >= 300) throw new ProtocolError(`${what}: ${res.message}`, res.status);
    if (!check(res.body)) throw new ProtocolError(`${what}: the server's answer does not match protocol`, res.status);
    return res.body;
  }

  /** One call, retried until it gets a non-transient answer. */
  private async call(method: string, route: string, token: string, body: unknown, call: CallOptions, waitMs?: number): Promise<Answer> {
    const timeoutMs = waitMs === undefined ? (this.opts.requestTimeoutMs ?? 30_000) : waitMs + LONG_POLL_MARGIN_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        const answer = await this.once(method, route, token, body, timeoutMs, call.signal);
        this.setReachable(true, '');
        return answer;
      } catch (err) {
        if (!(err instanceof TransientError)) throw err;
        this.setReachable(false, err.message);
        const delay = backoffDelay(attempt, this.opts.retryBaseMs, this.opts.retryCapMs);
        call.onRetry?.(err.message, delay);
        await sleep(delay, call.signal);
      }
    }
  }

  private async once(method: string, route: string, token: string, body: unknown, timeoutMs: number, signal?: AbortSignal): Promise<Answer> {
    if (signal?.aborted) throw abortError(signal);
    const ctl = new AbortController();
    let answered = false;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, timeoutMs);
    // Once the server has answered, the answer is read to the end: dropping an assignment would strand its job.
    const onStop = () => {
      if (!answered) ctl.abort();
    };
    signal?.addEventListener('abort', onStop, { once: true });
    try {
      const res = await request(
        this.server + route,
        method,
        { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
        JSON.stringify(body),
        ctl.signal,
      );
      answered = true;
      const text = (await readAll(res, Infinity)).toString('utf8');
      const status = res.statusCode ?? 0;
      if (status >= 500 || status === 429 || status === 408) throw new TransientError(`${status} ${res.statusMessage ?? ''}`.trim());
      return { status, body: parseJson(text), message: errorMessage(res, text) };
    } catch (err) {
      if (err instanceof TransientError) throw err;
      if (timedOut) throw new TransientError(`no answer within ${Math.round(timeoutMs / 1000)} s`);
      if (signal?.aborted && isAbortError(err)) throw abortError(signal);
      throw new TransientError((err as { code?: string }).code ?? causeOf(err));
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onStop);
    }
  }

  private setReachable(reachable: boolean, detail: string): void {
    if (reachable === this.reachable) return;
    this.reachable = reachable;
    this.opts.onConnectivity?.(reachable, detail);
  }
}

interface Answer {
  status: number;
  body: unknown;
  message: string;
}

function runnerGone(res: Answer): void {
  if (res.status === 401 || res.status === 409) throw new RunnerGoneError(res.message);
}

function leaseLost(res: Answer): void {
  if (res.status === 401 || res.status === 409) throw new LeaseLostError(res.message);
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorMessage(res: http.IncomingMessage, text: string): string {
  const parsed = parseJson(text) as { message?: unknown } | undefined;
  const message = typeof parsed?.message === 'string' ? parsed.message : '';
  return message || `${res.statusCode ?? 0} ${res.statusMessage ?? ''}`.trim();
}

/**
 * Keep-alive connections, as fetch kept them: polls, heartbeats and a job's log batches reuse
 * them. node:http rather than fetch: fetch (undici, with its HTTP parser in WebAssembly) costs an
 * idle runner about 8 MiB more of resident memory (M1).
 */
const AGENTS: Record<string, http.Agent> = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

/** One request; resolves with the response once its head has arrived. `signal` aborts it, the response's body included. */
function request(
  url: string,
  method: string,
  headers: http.OutgoingHttpHeaders,
  body: string | Buffer | undefined,
  signal: AbortSignal,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const agent = AGENTS[target.protocol];
    if (!agent) return reject(new Error(`${target.protocol} is not http: or https:`));
    const sized = body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) };
    const req = (target.protocol === 'https:' ? https : http).request(target, { method, headers: sized, agent, signal }, resolve);
    req.on('error', reject);
    req.end(body);
  });
}

/** A response's body, read until its end or until it holds more than `maxBytes` (then the rest is dropped with the connection). */
function readAll(res: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      chunks.push(chunk);
      if (size > maxBytes) {
        res.destroy();
        resolve(Buffer.concat(chunks));
      }
    });
    let ended = false;
    res.on('end', () => {
      ended = true;
      resolve(Buffer.concat(chunks));
    });
    res.on('error', reject);
    // Closed before its end (the connection dropped, or the signal aborted it): no partial answer.
    res.on('close', () => {
      if (!ended) reject(new Error('the answer was cut off'));
    });
  });
}
