import type { CreateRepo, LandRequest, LandResult, RepoEnvironmentView, UpdateRepo } from '../shared/api.js';
import type { RepoEnvironment } from '../shared/environment.js';
import { environmentView } from './environment.js';
import { forgeRefusal } from './forges/index.js';
import { GitError, isValidBranchName, redactUrls } from '../shared/git.js';
import { branchLandRefusal } from '../shared/job-actions.js';
import type { Principal } from './auth.js';
import type { Emit } from './events.js';
import { ApiError } from './errors.js';
import {
  bareRepoPath,
  initBareRepo,
  listBranches,
  pushToRemote,
  PushRejected,
  remoteBranchCommit,
  type PushResult,
  removeBareRepo,
  REPO_ID_RE,
  resolveBranch,
  setHead,
  type BranchRef,
} from './git/bare.js';
import { isAllowedRemoteUrl } from '../shared/remote-url.js';
import type { SessionFiles } from './session-files.js';
import { NameTakenError, type ActiveJob, type RepoRow, type RepoStore } from './store/repos.js';

/**
 * A repo is a row and a bare repository: they are created, changed and deleted together here,
 * and each change is told to the event stream.
 */
export class RepoService {
  constructor(
    readonly store: RepoStore,
    private readonly reposDir: string,
    private readonly emit: Emit,
    /** The agents' session files of the repo's jobs go with the repo. */
    private readonly sessionFiles?: SessionFiles,
  ) {}

  /** The repo of an id or a name, or a 404. */
  mustFind(idOrName: string): RepoRow {
    const repo = this.store.find(idOrName);
    if (!repo) throw new ApiError(404, `repo not found: ${idOrName}`);
    return repo;
  }

  async create(body: CreateRepo): Promise<RepoRow> {
    checkInput(body);
    const row = nameFree(body.name, () =>
      this.store.create({ name: body.name, default_branch: body.default_branch ?? 'main', remote_url: body.remote_url ?? null }),
    );
    try {
      await initBareRepo(this.path(row.id), row.default_branch);
    } catch (err) {
      this.store.delete(row.id);
      throw err;
    }
    this.changed('repo.created', row);
    return row;
  }

  async update(idOrName: string, body: UpdateRepo): Promise<RepoRow> {
    const repo = this.mustFind(idOrName);
    checkInput(body);
    const { forge, ...fields } = body;
    if (forge) {
      const why = forgeRefusal(forge);
      if (why) throw new ApiError(400, why);
    }
    const patch = forge === undefined ? fields : { ...fields, forge: forge === null ? null : JSON.stringify(forge) };
    const updated = nameFree(body.name, () => this.store.update(repo.id, patch));
    if (!updated) throw new ApiError(404, `repo not found: ${idOrName}`);
    if (body.default_branch) await setHead(this.path(repo.id), body.default_branch);
    this.changed('repo.updated', updated);
    return updated;
  }

  async delete(idOrName: string): Promise<void> {
    const repo = this.mustFind(idOrName);
    // Deleting a repo deletes its jobs: one still queued or running would vanish under its runner.
    if (!this.store.delete(repo.id)) {
      const active = this.store.activeJobs(repo.id);
      if (active.length === 0) throw new ApiError(404, `repo not found: ${idOrName}`);
      throw new ApiError(409, `repo ${repo.name} has ${activeInWords(active)}`);
    }
    // Gone from the database, so gone for every client, even if its directory cannot be removed.
    this.changed('repo.deleted', repo);
    await removeBareRepo(this.path(repo.id));
    await this.sessionFiles?.removeRepo(repo.id);
  }

  branches(repo: RepoRow): Promise<BranchRef[]> {
    return listBranches(this.path(repo.id));
  }

  /**
   * The server's land (`POST /api/repos/{id}/land`, the web UI's Land button): pushes a branch of
   * the internal bare repo to the repo's stored remote_url, with the server's own git credentials.
   * Not to be confused with `lazyaf land` (src/cli/commands/land.ts), which fetches the branch into
   * the person's checkout and pushes it to that checkout's own remote with the person's credentials.
   * The branch of a queued or running job is refused (branchLandRefusal); a finished job's branch
   * lands by its name whatever the job's outcome, since naming it is the deliberate step.
   */
  async pushToStoredRemote(repo: RepoRow, req: LandRequest): Promise<LandResult> {
    const { branch, force = false } = req;
    const remoteBranch = req.remote_branch ?? branch;
    if (!isValidBranchName(branch) || !isValidBranchName(remoteBranch)) throw new ApiError(400, 'invalid branch name');
    const writer = this.store.activeJobs(repo.id).find((job) => job.branch_name === branch);
    const unfinished = writer && branchLandRefusal(writer);
    if (unfinished) throw new ApiError(409, `cannot land ${branch}: ${unfinished}`);
    if (!repo.remote_url) throw new ApiError(409, `repo "${repo.name}" has no remote_url to land on; set one with PATCH /api/repos/${repo.id}`);
    if (!(await resolveBranch(this.path(repo.id), branch))) throw new ApiError(404, `branch not found: ${branch}`);
    const result = await this.pushBranch(repo, repo.remote_url, branch, remoteBranch, force, 'land it with force');
    return { repo_id: repo.id, branch, remote_branch: remoteBranch, remote_url: redactUrls(repo.remote_url), ...result };
  }

  /**
   * Pushes a branch of the bare repo to `remoteUrl` (the repo's, already checked): the remote's
   * refusal is a 409 in words (`replace` says how to replace a branch that moved), a remote that
   * cannot be pushed to a 424. `{ lease }`: replaced only while it holds the lease.
   */
  async pushBranch(
    repo: RepoRow,
    remoteUrl: string,
    branch: string,
    remoteBranch: string,
    force: boolean | { lease: string },
    replace: string,
  ): Promise<PushResult> {
    try {
      return await pushToRemote(this.path(repo.id), remoteUrl, branch, remoteBranch, force);
    } catch (err) {
      // The remote's answer, or its absence, is the person's to act on, not a fault of this server.
      if (err instanceof PushRejected) throw new ApiError(409, refusalInWords(err, remoteBranch, replace));
      if (err instanceof GitError) throw new ApiError(424, err.message);
      throw err;
    }
  }

  /** What `branch` holds on the repo's remote now ('' when none): the lease of a force-with-lease land. A remote that cannot be read is a 424. */
  async remoteLease(repo: RepoRow, remoteUrl: string, branch: string): Promise<string> {
    try {
      return await remoteBranchCommit(this.path(repo.id), remoteUrl, branch);
    } catch (err) {
      if (err instanceof GitError) throw new ApiError(424, err.message);
      throw err;
    }
  }

  /** The commit a branch of the bare repo points at, or undefined. */
  branchCommit(repo: RepoRow, branch: string): Promise<string | undefined> {
    return resolveBranch(this.path(repo.id), branch);
  }

  /**
   * After an accepted push: a repo whose default branch does not exist yet takes the pushed one
   * (main, master, else the first), so the next clone checks something out; then tell the UI.
   */
  async afterPush(repo: RepoRow, principal: Principal): Promise<void> {
    const repoPath = this.path(repo.id);
    const branches = await listBranches(repoPath);
    const current = this.store.get(repo.id);
    if (current && branches.length > 0 && !(await resolveBranch(repoPath, current.default_branch))) {
      const pick = branches.find((b) => b.name === 'main') ?? branches.find((b) => b.name === 'master') ?? branches[0]!;
      await setHead(repoPath, pick.name);
      const updated = this.store.update(repo.id, { default_branch: pick.name });
      if (updated) this.changed('repo.updated', updated);
    }
    this.emit({ type: 'branches.updated', repo_id: repo.id, by: principal.kind, branches });
  }

  /** The repo's environment: `.lazyaf.yml` at its default branch, the server's override, and both applied. */
  environment(repo: RepoRow): Promise<RepoEnvironmentView> {
    return environmentView(this.path(repo.id), repo.default_branch, this.store.environment(repo.id));
  }

  /** Sets the server's override of the repo's environment (checked by the caller), or clears it with null. */
  setEnvironment(repo: RepoRow, environment: RepoEnvironment | null): void {
    if (!this.store.setEnvironment(repo.id, environment)) throw new ApiError(404, `repo not found: ${repo.id}`);
    this.changed('repo.updated', repo);
  }

  private path(id: string): string {
    return bareRepoPath(this.reposDir, id);
  }

  private changed(type: 'repo.created' | 'repo.updated' | 'repo.deleted', repo: RepoRow): void {
    this.emit({ type, repo_id: repo.id, name: repo.name });
  }
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

/** Runs a write that may clash with another repo's name, as a 409. */
function nameFree<T>(name: string | undefined, write: () => T): T {
  try {
    return write();
  } catch (err) {
    if (err instanceof NameTakenError) throw new ApiError(409, `a repo named "${name}" already exists`);
    throw err;
  }
}

/** How many jobs keep a repo from being deleted, and which, so that a person can cancel them. */
function activeInWords(active: ActiveJob[]): string {
  const ids = active.map((job) => job.id.slice(0, 8));
  const shown = ids.length > 5 ? `${ids.slice(0, 4).join(', ')} and ${ids.length - 4} more` : ids.join(', ');
  if (ids.length === 1) return `1 queued or running job; cancel it first (job ${shown})`;
  return `${ids.length} queued or running jobs; cancel them first (jobs ${shown})`;
}

/** Why the remote refused a land, as `lazyaf land` says it: a branch that moved, or the remote's own reason. */
function refusalInWords(err: PushRejected, remoteBranch: string, replace: string): string {
  if (err.reason === 'non-fast-forward' || err.reason === 'fetch first') {
    return `${remoteBranch} on the remote has moved: it holds commits this branch does not (was the job redone after it was landed?); to replace it, ${replace}`;
  }
  if (err.reason === 'stale info') return `${remoteBranch} on the remote changed while landing it; land it again to replace what it holds now`;
  return `the remote refused ${remoteBranch} (${err.reason})${err.remoteSaid ? `: ${err.remoteSaid}` : ''}`;
}
