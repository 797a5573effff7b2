import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  BranchList,
  CloneUrl,
  CreateRepo,
  ErrorBody,
  IdParams,
  LandRequest,
  LandResult,
  Repo,
  RepoEnvironmentView,
  RepoList,
  UpdateRepo,
} from '../../shared/api.js';
import { RepoEnvironment } from '../../shared/environment.js';
import { checkEnvironment } from '../environment.js';
import { ApiError } from '../errors.js';
import { forgeOf } from '../forges/index.js';
import { redactUrls } from '../../shared/git.js';
import type { RepoService } from '../repos.js';
import type { RepoRow } from '../store/repos.js';
import { whileServerWaits } from '../edge.js';
import { cloneUrlFor } from './clone-url.js';

export interface RepoRoutesOptions {
  repos: RepoService;
  publicUrl?: string;
}

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody };

export async function repoRoutes(fastify: FastifyInstance, opts: RepoRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { repos } = opts;
  // The stored remote_url keeps its credentials for land; what the API shows never does.
  const toApi = (req: FastifyRequest, { environment: _override, forge, ...row }: RepoRow): Repo => ({
    ...row,
    remote_url: row.remote_url === null ? null : redactUrls(row.remote_url),
    forge: forgeOf(forge),
    clone_url: cloneUrlFor(req, row.id, opts.publicUrl),
  });

  app.get('/api/repos', { schema: { summary: 'List repos', tags: ['repos'], response: { 200: RepoList } } }, async (req) => {
    const rows = repos.store.list();
    return { repos: rows.map((r) => toApi(req, r)), total: rows.length };
  });

  app.post(
    '/api/repos',
    { schema: { summary: 'Create a repo', tags: ['repos'], body: CreateRepo, response: { 201: Repo, ...errors } } },
    async (req, reply) => {
      return reply.code(201).send(toApi(req, await repos.create(req.body)));
    },
  );

  app.post(
    '/api/repos/ingest',
    {
      schema: {
        summary: 'Create a repo to push a local repository into',
        tags: ['repos'],
        description: 'Creates a repo to push a local repository into. The response carries the clone_url to push to.',
        body: CreateRepo,
        response: { 201: Repo, ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(toApi(req, await repos.create(req.body))),
  );

  app.get('/api/repos/:id', { schema: { summary: 'Get a repo', tags: ['repos'], params: IdParams, response: { 200: Repo, ...errors } } }, async (req) => {
    return toApi(req, repos.mustFind(req.params.id));
  });

  app.patch(
    '/api/repos/:id',
    {
      schema: {
        summary: 'Rename a repo, or change its remote, default branch or forge',
        description:
          'Changes what the body names. `forge` ({kind: github|gitlab|gitea, api_url, project?}) is where `POST /api/jobs/{id}/land` with `pr` opens pull requests, with the token stored as the secret LAZYAF_FORGE_TOKEN; null clears it (github.com and gitlab.com remotes need none).',
        tags: ['repos'],
        params: IdParams,
        body: UpdateRepo,
        response: { 200: Repo, ...errors },
      },
    },
    async (req) => {
      return toApi(req, await repos.update(req.params.id, req.body));
    },
  );

  app.delete(
    '/api/repos/:id',
    { schema: { summary: 'Delete a repo, its jobs and its git repository', tags: ['repos'], params: IdParams, response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await repos.delete(req.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/repos/:id/clone-url',
    { schema: { summary: "Get a repo's clone URL", tags: ['repos'], params: IdParams, response: { 200: CloneUrl, ...errors } } },
    async (req) => {
      const repo = repos.mustFind(req.params.id);
      return { clone_url: cloneUrlFor(req, repo.id, opts.publicUrl), repo_id: repo.id, name: repo.name };
    },
  );

  app.get(
    '/api/repos/:id/branches',
    { schema: { summary: "List a repo's branches", tags: ['repos'], params: IdParams, response: { 200: BranchList, ...errors } } },
    async (req) => {
      const repo = repos.mustFind(req.params.id);
      const branches = await repos.branches(repo);
      return {
        branches: branches.map((b) => ({ ...b, is_default: b.name === repo.default_branch, is_lazyaf: b.name.startsWith('lazyaf/') })),
        default_branch: repo.default_branch,
        total: branches.length,
      };
    },
  );

  app.post(
    '/api/repos/:id/land',
    {
      schema: {
        tags: ['repos'],
        summary: "Push a branch to the repo's stored remote_url",
        description:
          "Pushes a branch of the internal repo to the repo's stored remote_url, from the server, with the server's own git credentials (the web UI's Land). Not `lazyaf land`, which pushes from your checkout to its own remote with your credentials. 409 when the branch is a queued or running job's (it is still being written) or the remote refuses it (its branch moved, a hook declined), 424 when it cannot be pushed to at all (unreachable, no access).",
        params: IdParams,
        body: LandRequest,
        response: { 200: LandResult, ...errors, 424: ErrorBody },
      },
    },
    async (req) => whileServerWaits(req, repos.pushToStoredRemote(repos.mustFind(req.params.id), req.body)),
  );

  /** The override as the client sent it, before the validator's coercion. */
  const asSent = new WeakMap<FastifyRequest, RepoEnvironment>();

  app.get(
    '/api/repos/:id/environment',
    {
      schema: {
        summary: "Get a repo's environment",
        tags: ['repos'],
        description:
          "The repo's environment: `.lazyaf.yml` at its default branch (or why it cannot be used), the server's override, and what a job gets with both applied. Secrets are named, never valued.",
        params: IdParams,
        response: { 200: RepoEnvironmentView, ...errors },
      },
    },
    async (req) => repos.environment(repos.mustFind(req.params.id)),
  );

  app.put(
    '/api/repos/:id/environment',
    {
      bodyLimit: 256 * 1024,
      // Before the validator, which coerces (`env: {A: 1}` would pass as "1", `setup: [x]` become "x"): the body
      // is checked and kept as sent, and the error says what is wrong in the words a file's would.
      preValidation: async (req) => {
        const checked = checkEnvironment(req.body, 'the environment');
        if (checked.error !== undefined) throw new ApiError(400, checked.error);
        asSent.set(req, structuredClone(checked.environment));
      },
      schema: {
        summary: "Set the server's override of a repo's environment",
        tags: ['repos'],
        description:
          "Replaces the server's override of the repo's environment, the same keys as `.lazyaf.yml`: each key it sets replaces the file's for every job from now on. Returns the repo's environment.",
        params: IdParams,
        body: RepoEnvironment,
        response: { 200: RepoEnvironmentView, ...errors },
      },
    },
    async (req) => {
      const repo = repos.mustFind(req.params.id);
      repos.setEnvironment(repo, asSent.get(req) ?? req.body);
      return repos.environment(repo);
    },
  );

  app.delete(
    '/api/repos/:id/environment',
    {
      schema: {
        summary: "Clear the server's override of a repo's environment",
        tags: ['repos'],
        description: "Removes the server's override: jobs get `.lazyaf.yml` alone. Returns the repo's environment.",
        params: IdParams,
        response: { 200: RepoEnvironmentView, ...errors },
      },
    },
    async (req) => {
      const repo = repos.mustFind(req.params.id);
      repos.setEnvironment(repo, null);
      return repos.environment(repo);
    },
  );
}
