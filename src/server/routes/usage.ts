import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody, UsageQuery, UsageReport } from '../../shared/api.js';
import { ApiError } from '../errors.js';
import type { RepoStore } from '../store/repos.js';
import type { UsageStore } from '../store/usage.js';

export interface UsageRoutesOptions {
  usage: UsageStore;
  repos: RepoStore;
}

/** `GET /api/usage`: what agents used, summed over every attempt that reported it (a retried attempt spent its tokens too). */
export async function usageRoutes(fastify: FastifyInstance, opts: UsageRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/usage',
    {
      schema: {
        summary: "Sum agents' tokens and cost per repo and per day",
        tags: ['jobs'],
        description:
          "Agents' tokens and cost summed over every attempt that reported usage (all attempts of a job, not only its last: each spent them), in total, per repo and per day (UTC) the attempt ended.",
        querystring: UsageQuery,
        response: { 200: UsageReport, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => {
      let repoId: string | null = null;
      if (req.query.repo) {
        const repo = opts.repos.find(req.query.repo);
        if (!repo) throw new ApiError(404, `repo not found: ${req.query.repo}`);
        repoId = repo.id;
      }
      const since = req.query.since ?? '';
      if (since && Number.isNaN(Date.parse(`${since}T00:00:00Z`))) throw new ApiError(400, `invalid since: ${since} is not a day`);
      const filter = { since, repo_id: repoId };
      return { total: opts.usage.total(filter), by_repo: opts.usage.byRepo(filter), by_day: opts.usage.byDay(filter) };
    },
  );
}
