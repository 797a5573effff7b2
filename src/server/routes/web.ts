import type { FastifyInstance } from 'fastify';
import type { WebUi } from '../web/ui.js';

/**
 * The web UI at `/` and its assets. Its other paths (`/jobs/<id>`, `/repos/<name>`) are the same
 * page, answered by the not-found handler for a browser asking for HTML (routes/base.ts).
 */
export async function webRoutes(app: FastifyInstance, opts: { ui: WebUi }): Promise<void> {
  const open = { auth: 'public' as const };
  app.get('/', { config: open, schema: { hide: true } }, async (_req, reply) => opts.ui.page(reply));
  // The name is checked by WebUi before it is joined to a path: a traversal is a 404 like any unknown asset.
  app.get<{ Params: { name: string } }>('/assets/:name', { config: open, schema: { hide: true } }, async (req, reply) =>
    opts.ui.asset(req.params.name, req, reply),
  );
}
