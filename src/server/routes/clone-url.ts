import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';

/** A DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port. */
const PLAIN_HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** The server's base URL as clients elsewhere reach it: LAZYAF_PUBLIC_URL, else the host the request reached. */
export function publicBase(req: FastifyRequest, publicUrl?: string): string {
  return (publicUrl ?? `${req.protocol}://${req.host}`).replace(/\/+$/, '');
}

/**
 * The base URL for something a person or runner will follow elsewhere (a runner's server URL, a
 * sign-in link). Without LAZYAF_PUBLIC_URL it comes from the Host header, the client's word:
 * anything but host[:port] would put credentials, a path or quotes into it, so it is refused.
 */
export function trustedBase(req: FastifyRequest, publicUrl?: string): string {
  if (!publicUrl && !PLAIN_HOST.test(req.host))
    throw new ApiError(400, 'the Host of this request is no plain host[:port] to make a URL of; set LAZYAF_PUBLIC_URL');
  const base = publicBase(req, publicUrl);
  if (!URL.canParse(base)) throw new ApiError(400, `the Host of this request makes no URL (${base}); set LAZYAF_PUBLIC_URL`);
  return base;
}

/** The URL a client clones a repo from. */
export function cloneUrlFor(req: FastifyRequest, repoId: string, publicUrl?: string): string {
  return `${publicBase(req, publicUrl)}/git/${repoId}.git`;
}
