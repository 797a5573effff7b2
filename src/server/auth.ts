import type { FastifyRequest } from 'fastify';
import type { Queue } from './queue/queue.js';
import type { JobStore } from './store/jobs.js';
import { hasTokenPrefix, JOB_TOKEN_PREFIX, tokenMatches } from './secrets.js';

/**
 * Who an admin or git request speaks for: a person (the admin token) or one attempt of a job (its
 * job token). Runner and registration tokens are checked by the runner protocol's routes instead.
 */
export type Principal = { kind: 'admin' } | { kind: 'job'; jobId: string; attemptId: string; runnerId: string; repoId: string; branch: string };

/** Resolves a presented token to a principal; the extra resolvers are tried after the admin token. */
export type TokenResolver = (token: string) => Principal | undefined;

export function makeTokenResolver(adminToken: string, extra: TokenResolver[] = []): TokenResolver {
  return (token) => {
    if (tokenMatches(token, adminToken)) return { kind: 'admin' };
    for (const resolve of extra) {
      const p = resolve(token);
      if (p) return p;
    }
    return undefined;
  };
}

/** A job token is a principal only while its attempt holds a live lease. */
export function jobTokenResolver(queue: Queue, jobs: JobStore): TokenResolver {
  return (token) => {
    if (!hasTokenPrefix(token, JOB_TOKEN_PREFIX)) return undefined;
    const attempt = queue.liveAttemptByToken(token);
    const job = attempt && jobs.get(attempt.job_id);
    if (!attempt || !job) return undefined;
    return { kind: 'job', jobId: job.id, attemptId: attempt.id, runnerId: attempt.runner_id, repoId: job.repo_id, branch: job.branch_name };
  };
}

/** The bearer token of a request, if any. */
export function bearerToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/** The password of HTTP Basic auth (git sends tokens that way), or a bearer token. */
export function basicOrBearerToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return bearerToken(req);
}
