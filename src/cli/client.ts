import fs from 'node:fs';
import path from 'node:path';
import { defaultDataDir } from '../shared/paths.js';
import { causeOf } from '../shared/fetch-error.js';
import { CliError } from './errors.js';

export interface ClientOptions {
  server?: string;
  token?: string;
}

/** Where the CLI finds the server and its token: flags, then env, then the local data dir. */
export function resolveClient(opts: ClientOptions, env: NodeJS.ProcessEnv = process.env): { server: string; token?: string } {
  const server = (opts.server ?? env.LAZYAF_SERVER ?? 'http://localhost:8000').replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/]+/.test(server)) throw new CliError(`invalid server URL: ${server} (expected http://host:port)`);
  return { server, token: opts.token ?? (env.LAZYAF_TOKEN || undefined) ?? localAdminToken(env) };
}

/** A server on this machine keeps its generated admin token in its data dir; reading it saves a copy-paste. */
function localAdminToken(env: NodeJS.ProcessEnv): string | undefined {
  try {
    return fs.readFileSync(path.join(defaultDataDir(env), 'admin_token'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A small JSON client for the lazyaf API that turns every failure into one clear CliError. */
export class ApiClient {
  readonly server: string;
  readonly token?: string;

  constructor(opts: ClientOptions) {
    const resolved = resolveClient(opts);
    this.server = resolved.server;
    this.token = resolved.token;
  }

  async request<T>(method: string, urlPath: string, body?: unknown, init: { signal?: AbortSignal } = {}): Promise<T> {
    const res = await this.raw(method, urlPath, body, init);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  /** The raw response of a successful request (for streams); errors are thrown as CliError. */
  async raw(method: string, urlPath: string, body?: unknown, init: { signal?: AbortSignal } = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.server + urlPath, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: init.signal });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new CliError(`cannot reach the lazyaf server at ${this.server} (${causeOf(err)}); is it running? (set --server or LAZYAF_SERVER)`);
    }
    if (res.ok) return res;
    let message = `${res.status} ${res.statusText}`;
    try {
      const parsed = (await res.json()) as { message?: string };
      if (parsed.message) message = parsed.message;
    } catch {
      // Not JSON: keep the status line.
    }
    if (res.status === 401) throw new CliError(`unauthorized: ${message} (pass --token or set LAZYAF_TOKEN to the admin token)`);
    throw new CliError(message);
  }
}
