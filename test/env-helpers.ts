// Repo environments from the runner's side: a runner protocol relay that hands the runner an
// environment with its assignments, and a small real Node project installed from the npm registry.
import http from 'node:http';
import type { TestContext } from 'node:test';
import type { ResolvedEnvironment } from '../src/shared/environment.js';
import { RunnerRoutes, type Assignment, type CompleteRequest } from '../src/shared/protocol.js';

/** What the relay adds to an assignment: an environment, or the server's error reading it. */
export type EnvironmentFor = (a: Assignment) => { environment: ResolvedEnvironment } | { environment_error: string } | undefined;

export interface EnvRelay {
  url: string;
  /** Each completion the runner sent, by job id (the last one of the job's attempts). */
  completions: Map<string, CompleteRequest>;
  close(): Promise<void>;
}

/**
 * The runner protocol relayed to a real server, with `environment` (or `environment_error`) added
 * to each assignment as the server will send it: the runner's side is tested on its own, through
 * the real queue, logs and git server. `holdAssignmentMs` delays each answer that carries a job.
 */
export async function envRelay(server: { url: string }, environmentFor: EnvironmentFor, opts: { holdAssignmentMs?: number } = {}): Promise<EnvRelay> {
  const completions = new Map<string, CompleteRequest>();
  const attempts = new Map<string, string>();
  const upstream = new AbortController();
  const relay = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
        const url = req.url ?? '/';
        const completing = /\/attempts\/([^/]+)\/complete$/.exec(url);
        if (completing && body.length > 0) {
          const jobId = attempts.get(decodeURIComponent(completing[1]!));
          if (jobId) completions.set(jobId, JSON.parse(body.toString('utf8')) as CompleteRequest);
        }
        const answer = await fetch(server.url + url, {
          method: req.method,
          headers,
          body: body.length > 0 ? body : undefined,
          signal: upstream.signal,
        });
        let out = Buffer.from(await answer.arrayBuffer());
        if (url === RunnerRoutes.poll && answer.status === 200) {
          const a = JSON.parse(out.toString('utf8')) as Assignment;
          attempts.set(a.attempt_id, a.job_id);
          out = Buffer.from(JSON.stringify({ ...a, ...environmentFor(a) }));
          // An answer on its way while the runner does something else (a drain).
          if (opts.holdAssignmentMs) await new Promise((resolve) => setTimeout(resolve, opts.holdAssignmentMs));
        }
        const type = answer.headers.get('content-type');
        res.writeHead(answer.status, { ...(type ? { 'content-type': type } : {}), 'content-length': out.length });
        res.end(out);
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const address = relay.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    completions,
    close: async () => {
      upstream.abort();
      relay.closeAllConnections();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    },
  };
}

/** An environment with nothing in it but what `parts` says. */
export function environment(parts: Partial<ResolvedEnvironment>): ResolvedEnvironment {
  return { setup: [], cache: null, checks: [], env: {}, setup_secrets: {}, job_secrets: {}, require_checks: false, image: null, source: 'file', ...parts };
}

/** Two releases of one tiny package without dependencies (is-number), as a lockfile pins them. */
const IS_NUMBER = {
  '7.0.0': 'sha512-41Cifkg6e8TylSpdtTpeLVMqvSBEVzTttHvERD741+pnZ8ANv0004MRL43QKPDlK9cGvNp6NZWZUBlbGXYxxng==',
  '6.0.0': 'sha512-Wu1VHeILBK8KAWJUAiSZQX94GmOE45Rg6/538fKwiloUu21KncEkYGPqob2oSZ5mUT73vLGrHQjKw3KMPwfDzg==',
} as const;

/** A real Node project's files: package.json, its lockfile (one dependency from the npm registry), node_modules ignored. */
export function nodeProject(version: keyof typeof IS_NUMBER): Record<string, string> {
  const pkg = {
    name: 'envdemo',
    version: '1.0.0',
    private: true,
    dependencies: { 'is-number': version },
    scripts: { test: 'node -e "require(\'is-number\')"' },
  };
  const lock = {
    name: 'envdemo',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'envdemo', version: '1.0.0', dependencies: { 'is-number': version } },
      'node_modules/is-number': {
        version,
        resolved: `https://registry.npmjs.org/is-number/-/is-number-${version}.tgz`,
        integrity: IS_NUMBER[version],
      },
    },
  };
  return {
    'package.json': `${JSON.stringify(pkg, null, 2)}\n`,
    'package-lock.json': `${JSON.stringify(lock, null, 2)}\n`,
    '.gitignore': 'node_modules/\n',
  };
}

/** The runner stops before the relay and the server close (after-hooks run in the order they were added): add this first. */
export function closeInOrder(t: TestContext): (close: () => Promise<unknown>) => void {
  const closers: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const close of closers) await close().catch(() => {});
  });
  return (close) => closers.push(close);
}
