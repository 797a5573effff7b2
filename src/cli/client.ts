import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { defaultDataDir } from '../shared/paths.js';
import { CliError, RefusedError } from './errors.js';

export interface ClientOptions {
  server?: string;
  token?: string;
}

/** Where the token the CLI sends came from, for the hint of a 401: the file it read or tried, by path. */
export type TokenSource = { from: '--token' | 'LAZYAF_TOKEN' } | { from: 'file'; path: string } | { from: 'none'; tried: string; why: string };

/** Where the CLI finds the server and its token: flags, then env, then the local data dir. */
export function resolveClient(opts: ClientOptions, env: NodeJS.ProcessEnv = process.env): { server: string; token?: string; tokenSource: TokenSource } {
  const server = (opts.server ?? env.LAZYAF_SERVER ?? 'http://localhost:8000').replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/]+/.test(server) || !URL.canParse(server)) throw new CliError(`invalid server URL: ${server} (expected http://host:port)`);
  if (opts.token) return { server, token: opts.token, tokenSource: { from: '--token' } };
  if (env.LAZYAF_TOKEN) return { server, token: env.LAZYAF_TOKEN, tokenSource: { from: 'LAZYAF_TOKEN' } };
  return { server, ...localAdminToken(env) };
}

/** A server on this machine keeps its generated admin token in its data dir; reading it saves a copy-paste. */
function localAdminToken(env: NodeJS.ProcessEnv): { token?: string; tokenSource: TokenSource } {
  const file = path.join(defaultDataDir(env), 'admin_token');
  try {
    const token = fs.readFileSync(file, 'utf8').trim();
    return token ? { token, tokenSource: { from: 'file', path: file } } : { tokenSource: { from: 'none', tried: file, why: 'empty' } };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { tokenSource: { from: 'none', tried: file, why: code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable') } };
  }
}

/**
 * What a 401 answer adds: which token was refused, or that none was found, and where the CLI
 * looks for one. The file it tried is named, so a wrong LAZYAF_DATA (or none) shows.
 */
export function unauthorizedHint(source: TokenSource): string {
  switch (source.from) {
    case '--token':
    case 'LAZYAF_TOKEN':
      return `the token from ${source.from} was refused; give the server's admin token (the admin_token file in its data dir)`;
    case 'file':
      return `the token read from ${source.path} was refused (another server's data dir?); pass --token or set LAZYAF_TOKEN to this server's admin token, or set LAZYAF_DATA to its data dir`;
    case 'none':
      return `no token was sent (no --token, no LAZYAF_TOKEN, and ${source.tried}: ${source.why}); pass --token or set LAZYAF_TOKEN to the server's admin token, or on the server's machine set LAZYAF_DATA to its data dir (default ~/.lazyaf), whose admin_token file holds it`;
  }
}

/** Why a request or a response failed, in words: Node's error code where it has one. */
function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message;
}

/**
 * Fastify's schema errors name where the bad value was (`querystring/status must be equal to one
 * of the allowed values`); said as `invalid status: must be ...`. Other messages are kept.
 */
export function readableRefusal(message: string): string {
  const m = /^(?:body|querystring|params|headers)(?:\/([\w/]+))? (must .*|should .*)$/s.exec(message);
  if (!m) return message;
  return `invalid ${m[1] ? m[1].replace(/\//g, '.') : 'request'}: ${m[2]}`;
}

/**
 * A small JSON client for the lazyaf API that turns every failure into one clear CliError.
 *
 * It speaks node:http, not fetch: fetch loads undici on its first call, which cost every client
 * command about 75 ms of CPU, half of what a bare `node -e 0` takes (two-core machine); node:http
 * costs a third of that. Node's global agent keeps the connection for the requests that follow.
 */
export class ApiClient {
  readonly server: string;
  readonly token?: string;
  private readonly tokenSource: TokenSource;

  constructor(opts: ClientOptions) {
    const resolved = resolveClient(opts);
    this.server = resolved.server;
    this.token = resolved.token;
    this.tokenSource = resolved.tokenSource;
  }

  /** `during`: what the request is part of (following job X), for a connection lost in the middle of it. */
  async request<T>(method: string, urlPath: string, body?: unknown, during?: string): Promise<T> {
    const res = await this.send(method, urlPath, body, during);
    const text = await this.readAll(res, during ?? `reading the answer to ${method} ${urlPath}`);
    if (res.statusCode === 204 || text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`the server at ${this.server} answered ${method} ${urlPath} with something that is not JSON (is it a lazyaf server?)`);
    }
  }

  /**
   * The text of a streamed answer (a followed log) as it arrives, until the server ends it. A
   * connection lost on the way is a CliError that says it happened while `doing`.
   */
  async *stream(urlPath: string, doing: string): AsyncGenerator<string> {
    yield* this.body(await this.send('GET', urlPath, undefined, doing), doing);
  }

  /** `lost the connection to the server at URL while following job X (ECONNRESET)` */
  lost(doing: string, why: string): CliError {
    return new CliError(`lost the connection to the server at ${this.server} while ${doing} (${why})`);
  }

  /** Sends a request and returns the response of a success; every failure is a CliError. */
  private async send(method: string, urlPath: string, body?: unknown, during?: string): Promise<IncomingMessage> {
    const url = new URL(this.server + urlPath);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const transport = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = transport.request(url, { method, headers }, resolve);
      req.on('error', (err) =>
        reject(
          during
            ? this.lost(during, reason(err))
            : new CliError(`cannot reach the lazyaf server at ${this.server} (${reason(err)}); is it running? (set --server or LAZYAF_SERVER)`),
        ),
      );
      req.end(payload);
    });
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return res;
    const text = await this.readAll(res, `reading the answer to ${method} ${urlPath}`);
    let message = `${status} ${res.statusMessage ?? ''}`.trim();
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === 'string' && parsed.message) message = parsed.message;
    } catch {
      // Not JSON: keep the status line.
    }
    if (status === 401) throw new RefusedError(`unauthorized: ${message} — ${unauthorizedHint(this.tokenSource)}`, status);
    throw new RefusedError(status === 400 ? readableRefusal(message) : message, status);
  }

  private async readAll(res: IncomingMessage, doing: string): Promise<string> {
    let text = '';
    for await (const chunk of this.body(res, doing)) text += chunk;
    return text;
  }

  /** The body as text; a connection that breaks, or closes before the answer is complete, is a CliError. */
  private async *body(res: IncomingMessage, doing: string): AsyncGenerator<string> {
    res.setEncoding('utf8');
    try {
      for await (const chunk of res) yield chunk as string;
    } catch (err) {
      throw this.lost(doing, reason(err));
    }
    if (!res.complete) throw this.lost(doing, 'the connection was closed mid-answer');
  }
}
