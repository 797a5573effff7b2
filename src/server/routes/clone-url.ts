import type { FastifyRequest } from 'fastify';

/** The URL a client clones a repo from: LAZYAF_PUBLIC_URL, else the host the request reached. */
export function cloneUrlFor(req: FastifyRequest, repoId: string, publicUrl?: string): string {
  const base = publicUrl ?? `${req.protocol}://${req.host}`;
  return `${base.replace(/\/+$/, '')}/git/${repoId}.git`;
}
