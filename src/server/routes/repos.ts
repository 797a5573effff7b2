import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { BranchList, CloneUrl, CreateRepo, ErrorBody, IdParams, LandRequest, LandResult, Repo, RepoList, UpdateRepo } from '../../shared/api.js';
import { GitError, isValidBranchName, redactUrls } from '../../shared/git.js';
import { bareRepoPath, initBareRepo, listBranches, pushToRemote, removeBareRepo, REPO_ID_RE, resolveBranch, setHead } from '../git/bare.js';
import { isAllowedRemoteUrl } from '../git/remote-url.js';
import { NameTakenError, type RepoRow, type RepoStore } from '../store/repos.js';
import { whileServerWaits } from '../edge.js';
import { ApiError } from '../errors.js';

export interface RepoRoutesOptions {
  repos: RepoStore;
  reposDir: string;
  publicUrl?: string;
  /** Tells the rest of the server (events, queue) that a repo changed. */
  onRepoChange: (event: { type: 'repo.created' | 'repo.updated' | 'repo.deleted'; repo: RepoRow }) => void;
}

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody };

export function cloneUrlFor(req: FastifyRequest, repoId: string, publicUrl?: string): string {
  const base = publicUrl ?? `${req.protocol}://${req.host}`;
  return `${base.replace(/\/+$/, '')}/git/${repoId}.git`;
}

export async function repoRoutes(fastify: FastifyInstance, opts: RepoRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { repos, reposDir } = opts;
  // The stored remote_url keeps its credentials for land; what the API shows never does.
  const toApi = (req: FastifyRequest, row: RepoRow): Repo => ({
    ...row,
    remote_url: row.remote_url === null ? null : redactUrls(row.remote_url),
    clone_url: cloneUrlFor(req, row.id, opts.publicUrl),
  });

  function mustFind(idOrName: string): RepoRow {
    const repo = repos.find(idOrName);
    if (!repo) throw new ApiError(404, `repo not found: ${idOrName}`);
    return repo;
  }

  function checkInput(input: { name?: string; remote_url?: string | null; default_branch?: string }): void {
    // REPO accepts an id or a name: a name that looks like an id would be shadowed by (or shadow) another repo.
    if (input.name !== undefined && REPO_ID_RE.test(input.name.toLowerCase())) throw new ApiError(400, 'a repo name may not look like a repo id');
    if (input.remote_url && !isAllowedRemoteUrl(input.remote_url)) {
      throw new ApiError(
        400,
        'remote_url must be an http(s)://, ssh://, git:// or file:// URL, [user@]host:path, or an absolute path, in printable ASCII, with no host, user or port that starts with "-" or is percent-encoded',
      );
    }
    if (input.default_branch !== undefined && !isValidBranchName(input.default_branch)) {
      throw new ApiError(400, `invalid branch name: ${JSON.stringify(input.default_branch)}`);
    }
  }

  async function create(body: CreateRepo): Promise<RepoRow> {
    checkInput(body);
    let row: RepoRow;
    try {
      row = repos.create({ name: body.name, default_branch: body.default_branch ?? 'main', remote_url: body.remote_url ?? null });
    } catch (err) {
      if (err instanceof NameTakenError) throw new ApiError(409, `a repo named "${body.name}" already exists`);
      throw err;
    }
    try {
      await initBareRepo(bareRepoPath(reposDir, row.id), row.default_branch);
    } catch (err) {
      repos.delete(row.id);
      throw err;
    }
    opts.onRepoChange({ type: 'repo.created', repo: row });
    return row;
  }

  app.get('/api/repos', { schema: { tags: ['repos'], response: { 200: RepoList } } }, async (req) => {
    const rows = repos.list();
    return { repos: rows.map((r) => toApi(req, r)), total: rows.length };
  });

  app.post('/api/repos', { schema: { tags: ['repos'], body: CreateRepo, response: { 201: Repo, ...errors } } }, async (req, reply) => {
    return reply.code(201).send(toApi(req, await create(req.body)));
  });

  app.post(
    '/api/repos/ingest',
    {
      schema: {
        tags: ['repos'],
        description: 'Creates a repo to push a local repository into. The response carries the clone_url to push to.',
        body: CreateRepo,
        response: { 201: Repo, ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(toApi(req, await create(req.body))),
  );

  app.get('/api/repos/:id', { schema: { tags: ['repos'], params: IdParams, response: { 200: Repo, ...errors } } }, async (req) => {
    return toApi(req, mustFind(req.params.id));
  });

  app.patch('/api/repos/:id', { schema: { tags: ['repos'], params: IdParams, body: UpdateRepo, response: { 200: Repo, ...errors } } }, async (req) => {
    const repo = mustFind(req.params.id);
    checkInput(req.body);
    let updated: RepoRow | undefined;
    try {
      updated = repos.update(repo.id, req.body);
    } catch (err) {
      if (err instanceof NameTakenError) throw new ApiError(409, `a repo named "${req.body.name}" already exists`);
      throw err;
    }
    if (!updated) throw new ApiError(404, `repo not found: ${req.params.id}`);
    if (req.body.default_branch) await setHead(bareRepoPath(reposDir, repo.id), req.body.default_branch);
    opts.onRepoChange({ type: 'repo.updated', repo: updated });
    return toApi(req, updated);
  });

  app.delete('/api/repos/:id', { schema: { tags: ['repos'], params: IdParams, response: { 204: Type.Null(), ...errors } } }, async (req, reply) => {
    const repo = mustFind(req.params.id);
    // Deleting a repo deletes its jobs: one still queued or running would vanish under its runner.
    if (!repos.delete(repo.id)) {
      const active = repos.activeJobs(repo.id);
      if (active === 0) throw new ApiError(404, `repo not found: ${req.params.id}`);
      throw new ApiError(409, `repo ${repo.name} has ${active} queued or running job${active === 1 ? '' : 's'}; cancel ${active === 1 ? 'it' : 'them'} first`);
    }
    // Gone from the database, so gone for every client, even if its directory cannot be removed.
    opts.onRepoChange({ type: 'repo.deleted', repo });
    await removeBareRepo(bareRepoPath(reposDir, repo.id));
    return reply.code(204).send(null);
  });

  app.get('/api/repos/:id/clone-url', { schema: { tags: ['repos'], params: IdParams, response: { 200: CloneUrl, ...errors } } }, async (req) => {
    const repo = mustFind(req.params.id);
    return { clone_url: cloneUrlFor(req, repo.id, opts.publicUrl), repo_id: repo.id, name: repo.name };
  });

  app.get('/api/repos/:id/branches', { schema: { tags: ['repos'], params: IdParams, response: { 200: BranchList, ...errors } } }, async (req) => {
    const repo = mustFind(req.params.id);
    const branches = await listBranches(bareRepoPath(reposDir, repo.id));
    return {
      branches: branches.map((b) => ({ ...b, is_default: b.name === repo.default_branch, is_lazyaf: b.name.startsWith('lazyaf/') })),
      default_branch: repo.default_branch,
      total: branches.length,
    };
  });

  app.post(
    '/api/repos/:id/land',
    {
      schema: {
        tags: ['repos'],
        description: "Pushes a branch of the internal repo to the repo's remote_url, with the server's own git credentials.",
        params: IdParams,
        body: LandRequest,
        response: { 200: LandResult, ...errors, 502: ErrorBody },
      },
    },
    async (req) => {
      const repo = mustFind(req.params.id);
      const { branch, force = false } = req.body;
      const remoteBranch = req.body.remote_branch ?? branch;
      if (!isValidBranchName(branch) || !isValidBranchName(remoteBranch)) throw new ApiError(400, 'invalid branch name');
      if (!repo.remote_url) throw new ApiError(409, `repo "${repo.name}" has no remote_url to land on; set one with PATCH /api/repos/${repo.id}`);
      const repoPath = bareRepoPath(reposDir, repo.id);
      if (!(await resolveBranch(repoPath, branch))) throw new ApiError(404, `branch not found: ${branch}`);
      try {
        const result = await whileServerWaits(req, pushToRemote(repoPath, repo.remote_url, branch, remoteBranch, force));
        return { repo_id: repo.id, branch, remote_branch: remoteBranch, remote_url: redactUrls(repo.remote_url), ...result };
      } catch (err) {
        if (err instanceof GitError) throw new ApiError(502, err.message);
        throw err;
      }
    },
  );
}
