import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody, PoolState, ScalePool } from '../../shared/api.js';
import type { Pool } from '../pool/pool.js';

export async function poolRoutes(fastify: FastifyInstance, opts: { pool: Pool }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/api/pool', { schema: { summary: "Get the runner pool's size", tags: ['pool'], response: { 200: PoolState, 401: ErrorBody } } }, async () =>
    opts.pool.state(),
  );
  app.put(
    '/api/pool',
    { schema: { summary: 'Scale the runner pool', tags: ['pool'], body: ScalePool, response: { 200: PoolState, 400: ErrorBody, 401: ErrorBody } } },
    async (req) => opts.pool.scale(req.body.desired),
  );
}
