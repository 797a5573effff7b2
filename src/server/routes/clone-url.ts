import type { FastifyRequest } from 'fastify';

/** The server's base URL as clients elsewhere reach it: LAZYAF_PUBLIC_URL, else the host the request reached. */
export function publicBase(req: FastifyRequest, publicUrl?: string): string {
  return (publicUrl ?? `${req.protocol}://${req.host}`).replace(/\/+$/, '');
}

/** The URL a client clones a repo from. */
export function cloneUrlFor(req: FastifyRequest, repoId: string, publicUrl?: string): string {
  return `${publicBase(req, publicUrl)}/git/${repoId}.git`;
}
