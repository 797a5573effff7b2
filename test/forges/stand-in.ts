// A forge's REST API as a small local server: the requests it saw, what in them a real forge would
// refuse (`problems`), and a `hostile` switch that makes it answer as no forge should.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { git } from '../helpers.js';

export interface Seen {
  method: string;
  /** The path as sent, percent-encoding kept (GitLab names a project by its encoded path). */
  rawPath: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

export interface Answer {
  status: number;
  json?: unknown;
  /** A body sent as it is, as HTML. */
  html?: string;
}

/** How a hostile forge answers a create: 64 MiB, HTML, 201 without a URL, or the token it was sent echoed back. */
export type Hostile = 'huge' | 'not-json' | 'no-url' | 'echo-token';

export interface StandIn {
  url: string;
  seen: Seen[];
  /** What a real forge would have refused, in words: a test of a well-formed request expects none. */
  problems: string[];
  hostile?: Hostile;
}

/** Starts a stand-in on 127.0.0.1:0 that answers each request with `handle`, closed when the test ends. */
export async function startStandIn(t: TestContext, handle: (req: Seen, self: StandIn) => Promise<Answer>): Promise<StandIn> {
  const self: StandIn = { url: '', seen: [], problems: [] };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const [rawPath = '', search = ''] = (req.url ?? '').split('?');
      let body: unknown;
      if (raw) {
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
      }
      const seen: Seen = { method: req.method ?? '', rawPath, query: new URLSearchParams(search), headers: req.headers, body };
      self.seen.push(seen);
      handle(seen, self).then(
        (answer) => {
          if (answer.html !== undefined) return void res.writeHead(answer.status, { 'content-type': 'text/html' }).end(answer.html);
          res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8' });
          res.end(answer.json === undefined ? '' : JSON.stringify(answer.json));
        },
        (err: unknown) => {
          self.problems.push(`stand-in failed: ${String(err)}`);
          res.writeHead(500).end();
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  t.after(() => server.closeAllConnections());
  self.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return self;
}

/** A hostile answer to a create, when the stand-in is switched to one. */
export function hostileAnswer(self: StandIn, token: string): Answer | undefined {
  switch (self.hostile) {
    case 'no-url':
      return { status: 201, json: { number: 1, html_url: 'javascript:alert(1)', web_url: 42 } };
    case 'echo-token':
      return { status: 403, json: { message: `token ${token} is not allowed here` } };
    case 'huge':
      return { status: 201, json: { html_url: 'https://forge.example/p/1', padding: 'x'.repeat(3 * 1024 * 1024) } };
    case 'not-json':
      return { status: 201, html: '<html><body>Sign in to continue</body></html>' };
    default:
      return undefined;
  }
}

/** Checks the headers and body every JSON request carries; returns the body's string fields, or the problems. */
export function jsonFields<K extends string>(req: Seen, fields: K[], problems: string[]): Record<K, string> | undefined {
  if (!/^application\/json\b/.test(req.headers['content-type'] ?? ''))
    problems.push(`${req.method} ${req.rawPath}: content-type ${req.headers['content-type']}`);
  if (!req.body || typeof req.body !== 'object') {
    problems.push(`${req.method} ${req.rawPath}: body is not a JSON object`);
    return undefined;
  }
  const out = {} as Record<K, string>;
  for (const field of fields) {
    const value = (req.body as Record<string, unknown>)[field];
    if (typeof value !== 'string' || !value) {
      problems.push(`${req.method} ${req.rawPath}: ${field} is ${JSON.stringify(value)}`);
      return undefined;
    }
    out[field] = value;
  }
  return out;
}

/** Whether `branch` exists on the remote the forge serves: a pull request's head must have been pushed first. */
export async function hasBranch(remote: string, branch: string): Promise<boolean> {
  return git(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], remote).then(
    () => true,
    () => false,
  );
}
