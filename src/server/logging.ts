import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import pino, { type Logger } from 'pino';
import { printable } from '../shared/terminal.js';
import { RunnerRoutePaths } from '../shared/protocol.js';
import type { LogFormat, ServerConfig } from './config.js';

/**
 * The server's log: pino's JSON lines for collectors, or, on a terminal, one short line per
 * record for the person who started it (what started, runners joining and leaving, jobs starting
 * and ending, warnings and errors). Hand-written rather than pino-pretty: a line is a time and a
 * message, which needs no dependency, and a job's title in it must be escaped (shared/terminal.ts).
 */

/** Where a pretty line goes: a terminal, or anything a test can read. */
export interface LineSink {
  write(text: string): unknown;
}

/** The format a server uses: the one asked for, else short lines on a terminal and JSON elsewhere. */
export function logFormat(config: Pick<ServerConfig, 'logFormat'>, stdout: { isTTY?: boolean } = process.stdout): LogFormat {
  return config.logFormat ?? (stdout.isTTY ? 'pretty' : 'json');
}

export function createLogger(config: Pick<ServerConfig, 'logLevel' | 'logFormat'>, out: LineSink & { isTTY?: boolean } = process.stdout): Logger {
  const options = {
    level: config.logLevel,
    // Tokens and session secrets travel in these headers; they never reach a log line.
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', 'req.headers.cookie', 'headers.cookie', 'res.headers["set-cookie"]'],
      censor: '[redacted]',
    },
  };
  if (logFormat(config, out) === 'json') return out === process.stdout ? pino(options) : pino(options, out);
  const verbose = isVerbose(config.logLevel);
  return pino(options, {
    write(json: string) {
      const line = prettyLine(JSON.parse(json) as LogRecord, verbose);
      if (line !== undefined) out.write(`${line}\n`);
    },
  });
}

/** At debug and finer, a person asked for everything. */
function isVerbose(level: string): boolean {
  return level === 'debug' || level === 'trace';
}

interface LogRecord {
  level: number;
  time: number;
  msg?: string;
  err?: { message?: string };
  req?: unknown;
  res?: unknown;
  /** A line of a pool runner's own output. */
  runner?: string;
}

const WARN = 40;
const ERROR = 50;

/**
 * One record as a person reads it, or undefined for what only a collector wants at info: request
 * logs and the pool runners' own chatter (their warnings and fatal errors stay).
 */
export function prettyLine(rec: LogRecord, verbose = false): string | undefined {
  const msg = rec.msg ?? '';
  if (!verbose && rec.level < WARN) {
    // Requests, and Fastify's own "Server listening at": the start-up lines on stderr say it.
    if (rec.req !== undefined || rec.res !== undefined || msg.startsWith('Server listening at ')) return undefined;
    if (rec.runner !== undefined && !/\b(WARNING|fatal)\b/.test(msg)) return undefined;
  }
  const time = new Date(rec.time).toTimeString().slice(0, 8);
  const label = rec.level >= ERROR ? 'error: ' : rec.level >= WARN ? 'warning: ' : '';
  const why = rec.err?.message && !msg.includes(rec.err.message) ? `: ${rec.err.message.split('\n')[0]}` : '';
  return `${time} ${label}${printable(`${msg}${why}`)}`;
}

/** The runners' steady traffic: every idle runner calls these all the time, and a person never needs them at info. */
const STEADY: ReadonlySet<string> = new Set([RunnerRoutePaths.heartbeat, RunnerRoutePaths.poll, RunnerRoutePaths.logs, RunnerRoutePaths.complete]);

/**
 * Whether Fastify leaves a request out of its request logs: runner traffic, unless the level is
 * debug or finer. By the path of the route it reached (`req.routeOptions.url`), undefined for none.
 */
export function quietRequest(route: string | undefined, level: string): boolean {
  return !isVerbose(level) && route !== undefined && STEADY.has(route);
}

/**
 * Fastify's request log as one line per request, written when it ends (method, URL, status and
 * time together), rather than a line when it comes and another when it ends: half the log writes
 * of every request a person's log keeps, such as each job submitted. At debug and finer the line
 * as it comes is kept too, for a request that never ends. Runner traffic stays out (quietRequest).
 */
export class RequestLog extends LogController {
  constructor(private readonly level: () => string) {
    super({ disableRequestLogging: (req: FastifyRequest) => quietRequest(req.routeOptions.url, level()) });
  }

  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    if (isVerbose(this.level())) super.incomingRequest(request, reply);
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    const fields = { req: request, res: reply, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...fields, err: error }, 'request errored');
    else reply.log.info(fields, 'request completed');
  }
}
