import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { DockerCommand, DockerCommandQuery, ErrorBody } from '../../shared/api.js';
import { parseLabels } from '../../shared/names.js';
import { ApiError } from '../errors.js';
import type { ContainerLimits } from '../pool/container-limits.js';
import { dockerRunCommand } from '../pool/docker-command.js';
import { trustedBase } from './clone-url.js';

export interface DockerCommandRoutesOptions {
  image: string;
  registrationToken: string;
  publicUrl?: string;
  /** The server's relay folder (pool/host-relay.ts), where it offers one. */
  relayDir?: string;
  jobHostPorts: number[];
  limits?: Pick<ContainerLimits, 'pids' | 'memoryBytes'>;
  /** LAZYAF_HOST: whether, and where, runners on other machines can reach the server. */
  listenHost: string;
}

/** The `docker run` line that adds a runner on another machine (admin only, like all of /api). */
export async function dockerCommandRoutes(fastify: FastifyInstance, opts: DockerCommandRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/runners/docker-command',
    {
      schema: {
        summary: 'Get a docker run command that starts a runner',
        tags: ['runners'],
        description:
          'A `docker run` command that starts a runner of the runner image against this server. Secrets are `<NAME>` placeholders unless with_secrets=true.',
        querystring: DockerCommandQuery,
        response: { 200: DockerCommand, 400: ErrorBody, 401: ErrorBody, 422: ErrorBody },
      },
    },
    async (req, reply) => {
      // With secrets, the answer must not stay in a browser's or a proxy's cache.
      reply.header('cache-control', 'no-store');
      const parsed = parseLabels(req.query.labels ?? '');
      if ('error' in parsed) throw new ApiError(400, parsed.error);
      const serverUrl = trustedBase(req, opts.publicUrl);
      return dockerRunCommand(
        {
          serverUrl,
          image: opts.image,
          registrationToken: opts.registrationToken,
          withSecrets: req.query.with_secrets === true,
          labels: parsed.labels,
          relayDir: opts.relayDir,
          jobHostPorts: opts.jobHostPorts,
          limits: opts.limits,
        },
        { host: opts.listenHost },
      );
    },
  );
}
