import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { tooShortForSecret } from '../../shared/agents/credentials.js';
import { ErrorBody, SecretInfo, SecretList, SecretParams, SecretScope, SetSecret } from '../../shared/api.js';
import { ApiError } from '../errors.js';
import type { RepoService } from '../repos.js';
import type { StoredSecrets } from '../stored-secrets.js';

export interface SecretRoutesOptions {
  secrets: StoredSecrets;
  repos: RepoService;
}

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody };

/** `lazyaf secrets`: a value goes in and is never given back; the list has names, scopes and dates only. */
export async function secretRoutes(fastify: FastifyInstance, opts: SecretRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { secrets, repos } = opts;
  const scope = (repo: string | undefined) => (repo === undefined ? null : repos.mustFind(repo).id);
  const infoOf = (name: string, repoId: string | null) => secrets.list().find((s) => s.name === name && s.repo_id === repoId)!;

  app.get(
    '/api/secrets',
    {
      schema: {
        summary: 'List secrets (names, never values)',
        tags: ['secrets'],
        description:
          "Every stored secret by name, scope and date. With `?repo=`, those a job of that repo may be given: the repo's own and those for every repo that it does not replace.",
        querystring: SecretScope,
        response: { 200: SecretList, ...errors },
      },
    },
    async (req) => ({ secrets: req.query.repo === undefined ? secrets.list() : secrets.listFor(repos.mustFind(req.query.repo).id) }),
  );

  app.put(
    '/api/secrets/:name',
    {
      // A value of 64 Ki characters, JSON-escaped (`\u0001` is six characters for one), fits.
      bodyLimit: 512 * 1024,
      // Before the validator, which coerces: 12345678901234567890 would be stored as "12345678901234567000", [x] as "x".
      preValidation: async (req) => {
        const value = (req.body as { value?: unknown } | null)?.value;
        if (value !== undefined && typeof value !== 'string') throw new ApiError(400, 'invalid value: it must be a JSON string');
      },
      schema: {
        summary: 'Set a secret',
        tags: ['secrets'],
        description:
          "Stores a secret for agent jobs and for repo environments (`.lazyaf.yml`'s `secrets` and `job_secrets`), for one repo with `?repo=`. Its value is never shown again.",
        params: SecretParams,
        querystring: SecretScope,
        body: SetSecret,
        response: { 200: SecretInfo, 201: SecretInfo, ...errors },
      },
    },
    async (req, reply) => {
      // An environment variable cannot hold a NUL: the job's agent could never be given it.
      if (req.body.value.includes('\0')) throw new ApiError(400, 'invalid value: it holds a NUL character, which no environment variable can carry');
      const short = tooShortForSecret(req.params.name, req.body.value);
      if (short) throw new ApiError(400, `invalid value: ${short}`);
      const repoId = scope(req.query.repo);
      const existed = secrets.set(req.params.name, repoId, req.body.value);
      return reply.code(existed ? 200 : 201).send(infoOf(req.params.name, repoId));
    },
  );

  app.delete(
    '/api/secrets/:name',
    {
      schema: {
        summary: 'Delete a secret',
        tags: ['secrets'],
        description: "With `?repo=`, the repo's own; without it, the one for every repo.",
        params: SecretParams,
        querystring: SecretScope,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      const repoId = scope(req.query.repo);
      if (!secrets.remove(req.params.name, repoId))
        throw new ApiError(404, `secret not found: ${req.params.name}${req.query.repo ? ` (repo ${req.query.repo})` : ''}`);
      return reply.code(204).send(null);
    },
  );
}
