import crypto from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody, IdParams, JobLandRequest, JobLandResult } from '../../shared/api.js';
import type { ServerContext } from '../context.js';
import { whileServerWaits } from '../edge.js';
import { landJob } from '../land-job.js';
import { findJob } from '../queue/core.js';
import { hasSessionCookie } from '../web/cookies.js';

export interface LandRoutesOptions {
  ctx: ServerContext;
}

/**
 * Who landed: "admin" for the admin token, else the signed-in browser, named by a short hash of
 * its session (sessions carry no name; the hash tells two browsers apart and reveals nothing).
 * The admin check has already let the request in, so it is one or the other.
 */
function landedBy(req: FastifyRequest, ctx: ServerContext): string {
  if (req.headers.authorization !== undefined || !hasSessionCookie(req.headers.cookie)) return 'admin';
  const secret = ctx.sessions.find(req.headers.cookie);
  return secret ? `browser session ${crypto.createHash('sha256').update(secret).digest('hex').slice(0, 8)}` : 'browser session';
}

export async function landRoutes(fastify: FastifyInstance, { ctx }: LandRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/api/jobs/:id/land',
    {
      bodyLimit: 256 * 1024,
      schema: {
        summary: "Land a job's branch on the repo's remote, and open a pull request",
        tags: ['jobs'],
        description:
          "Pushes a succeeded job's branch (a follow-up's holds its whole chain) from the server to the repo's stored remote_url, records who landed it, when and where (the job's `landed`), and with `pr` opens a pull request (GitLab: a merge request) on the repo's forge with the token stored as the secret LAZYAF_FORGE_TOKEN. A branch that moved on the remote is replaced only with `force_with_lease`, and only while it holds what the server read of it just before. 409: the job cannot be landed (unfinished, failed, no commit), the repo has no remote_url or forge or token, or the remote refused the push (in words); 424: the remote cannot be reached. A pull request that fails after the push leaves the landing standing: `pr_error` says why.",
        params: IdParams,
        body: JobLandRequest,
        response: { 200: JobLandResult, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 424: ErrorBody },
      },
    },
    async (req) => {
      const job = findJob(ctx.store.jobs, req.params.id);
      return whileServerWaits(req, landJob(ctx, job, req.body, landedBy(req, ctx)));
    },
  );
}
