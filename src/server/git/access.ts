import { existsSync } from 'node:fs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { basicOrBearerToken, type Principal, type TokenResolver } from '../auth.js';
import { ApiError } from '../errors.js';
import type { RepoRow, RepoStore } from '../store/repos.js';
import { bareRepoPath, REPO_ID_RE } from './bare.js';

/** Who may use one git request, decided once per request by `gitAccess` (a job token's ref rule is the push guard's). */
export interface GitAccess {
  repo: RepoRow;
  /** The bare repository, known to exist when the request was authorized. */
  repoPath: string;
  principal: Principal;
  /** The token as presented: the push guard asks again whether it still holds while a push arrives. */
  token: string;
}

export interface GitAccessOptions {
  repos: RepoStore;
  reposDir: string;
  resolveToken: TokenResolver;
}

/**
 * Checks the token (HTTP Basic, as git sends it, or a bearer) and that the `:repo` of the path
 * (`<id>.git`) exists and is this principal's to use. A missing or wrong token is a 401 that asks
 * for Basic auth, which is what makes git prompt for, or fill in, its credentials.
 */
export function authorizeGit(req: FastifyRequest, reply: FastifyReply, opts: GitAccessOptions): GitAccess {
  const segment = (req.params as { repo: string }).repo;
  const repoId = segment.endsWith('.git') ? segment.slice(0, -'.git'.length) : '';
  const token = basicOrBearerToken(req);
  const principal = token ? opts.resolveToken(token) : undefined;
  if (!token || !principal) {
    reply.header('WWW-Authenticate', 'Basic realm="lazyaf", charset="UTF-8"');
    throw new ApiError(401, token ? 'invalid token' : 'authentication required');
  }
  // The id is checked against the database before anything touches the filesystem.
  const repo = REPO_ID_RE.test(repoId) ? opts.repos.get(repoId) : undefined;
  if (!repo) throw new ApiError(404, 'repository not found');
  if (principal.kind === 'job' && principal.repoId !== repo.id) throw new ApiError(403, 'this token is not valid for this repository');
  const repoPath = bareRepoPath(opts.reposDir, repo.id);
  // git cannot even start in a directory that is gone; say so instead of failing obscurely.
  if (!existsSync(repoPath)) {
    req.log.warn({ repo: repo.id, repoPath }, 'bare repository is missing');
    throw new ApiError(404, 'repository not found (its storage is missing)');
  }
  return { repo, repoPath, principal, token };
}
