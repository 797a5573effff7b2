import type { JobLandRequest, JobLandResult } from '../shared/api.js';
import { isValidBranchName, redactUrls } from '../shared/git.js';
import { branchLandRefusal, landRefusal } from '../shared/job-actions.js';
import type { ServerContext } from './context.js';
import { ApiError } from './errors.js';
import { FORGE_TOKEN_NAME, ForgeError, resolveForge, type ResolvedForge } from './forges/index.js';
import { hideToken, oneLine } from './forges/http.js';
import type { JobRow } from './store/jobs.js';
import type { RepoRow } from './store/repos.js';

type LandPlan = { repo: RepoRow; branch: string; remoteBranch: string; remoteUrl: string; base: string; pr: ReturnType<typeof pullRequestPlan> | undefined };

/**
 * What landing `job` would do, or the refusal (an ApiError) of everything that can be told without
 * git: a task's pick with land asks first, so a land that cannot happen leaves no pick behind.
 */
export function landPlan(ctx: ServerContext, job: JobRow, req: JobLandRequest): LandPlan {
  const repo = ctx.repos.store.get(job.repo_id);
  if (!repo) throw new ApiError(404, `repo not found: ${job.repo_id}`);
  const facts = {
    id: job.id,
    status: job.status,
    commit: job.commit_sha,
    branch: job.branch,
    cancel_requested: job.cancel_requested === 1,
    repo_id: job.repo_id,
    repo_name: repo.name,
  };
  const refusal = landRefusal(facts);
  if (refusal || !job.branch) throw new ApiError(409, refusal ?? `job ${job.id.slice(0, 8)} has no branch to land`);
  const branch = job.branch;
  // A follow-up still writing this branch (the chain's next job) makes it unfinished, as the repo's land says.
  const writer = ctx.repos.store.activeJobs(repo.id).find((active) => active.branch_name === branch);
  const unfinished = writer && branchLandRefusal(writer);
  if (unfinished) throw new ApiError(409, `cannot land ${branch}: ${unfinished}`);
  const remoteBranch = req.remote_branch ?? branch;
  if (!isValidBranchName(remoteBranch)) throw new ApiError(400, `invalid branch name: ${JSON.stringify(remoteBranch)}`);
  if (!repo.remote_url) throw new ApiError(409, `repo "${repo.name}" has no remote_url to land on; set one with PATCH /api/repos/${repo.id}`);
  const remoteUrl = repo.remote_url;
  const base = req.base ?? repo.default_branch;
  if (!isValidBranchName(base)) throw new ApiError(400, `invalid branch name: ${JSON.stringify(base)}`);
  const pr = req.pr ? pullRequestPlan(ctx, repo) : undefined;
  return { repo, branch, remoteBranch, remoteUrl, base, pr };
}

/**
 * Lands a job from the server (`POST /api/jobs/{id}/land`, the web UI's Land and Open PR, a
 * task's pick with land): pushes the job's branch from the bare repo to the repo's stored
 * remote_url, records the landing on the job, and opens a pull request when asked. The rules are
 * `lazyaf land JOB`'s (job-actions.ts landRefusal): a succeeded job with a commit; a follow-up's
 * branch holds its whole chain, so landing the last job lands the chain; a branch that moved on the
 * remote is replaced only with force_with_lease, and only while it holds what this server read of
 * it just before. `by` is who asked ("admin", or the browser session).
 *
 * Everything that can refuse is checked before the push (the job, the remote, the forge and its
 * token when a PR is asked for), so a refusal changes nothing. A pull request that fails after the
 * push leaves the landing standing: the answer's `pr_error` says why.
 */
export async function landJob(ctx: ServerContext, job: JobRow, req: JobLandRequest, by: string): Promise<JobLandResult> {
  const { repo, branch, remoteBranch, remoteUrl, base, pr } = landPlan(ctx, job, req);
  if (!(await ctx.repos.branchCommit(repo, branch))) {
    throw new ApiError(409, `job ${job.id.slice(0, 8)}'s branch ${branch} is no longer in the repo (a discarded candidate's branch is deleted after its time)`);
  }

  const force = req.force_with_lease ? { lease: await ctx.repos.remoteLease(repo, remoteUrl, remoteBranch) } : false;
  const pushed = await ctx.repos.pushBranch(
    repo,
    remoteUrl,
    branch,
    remoteBranch,
    force,
    'land it with force_with_lease (lazyaf land JOB --from-server --force-with-lease)',
  );
  const landing = {
    landed_by: by,
    landed_ms: Date.now(),
    landed_remote_url: redactUrls(remoteUrl),
    landed_branch: remoteBranch,
    landed_commit: pushed.commit,
    pr_url: null,
  };
  ctx.db.transaction(() => {
    ctx.store.jobs.recordLanding(job.id, landing);
    ctx.notify('job.landed', { job_id: job.id });
  })();
  const changed = () => ctx.events.emit({ type: 'job.updated', job_id: job.id, repo_id: job.repo_id, status: job.status });
  changed();

  let prUrl: string | null = null;
  let prError: string | null = null;
  if (pr) {
    try {
      prUrl = await pr.forge.api.openPullRequest({
        apiUrl: pr.forge.apiUrl,
        project: pr.forge.project,
        head: remoteBranch,
        base,
        title: req.title ?? job.title,
        body: req.body ?? defaultBody(ctx, job),
        token: pr.token,
      });
      ctx.store.jobs.setPrUrl(job.id, prUrl);
      changed();
    } catch (err) {
      // Whatever went wrong, the token stays out of what is said (a forge may echo it, or a fault name it).
      prError = err instanceof ForgeError ? hideToken(err.message, pr.token) : hideToken(`the pull request failed: ${oneLine(String(err))}`, pr.token);
    }
  }
  return {
    job_id: job.id,
    landing: {
      landed_by: by,
      landed_at: new Date(landing.landed_ms).toISOString(),
      remote_url: landing.landed_remote_url,
      remote_branch: remoteBranch,
      commit: pushed.commit,
      pr_url: prUrl,
    },
    output: pushed.output,
    pr_error: prError,
  };
}

/** The forge and token a pull request needs, or the 409 that says what to set: checked before anything is pushed. */
function pullRequestPlan(ctx: ServerContext, repo: RepoRow): { forge: ResolvedForge; token: string } {
  const forge = resolveForge(repo);
  if (typeof forge === 'string') throw new ApiError(409, forge);
  const token = ctx.secrets.lookup(repo.id, FORGE_TOKEN_NAME)?.value ?? process.env[FORGE_TOKEN_NAME] ?? '';
  if (!token) {
    throw new ApiError(
      409,
      `no token to open a pull request with: store one with lazyaf secrets set ${FORGE_TOKEN_NAME} --repo ${repo.name} (or for every repo, without --repo)`,
    );
  }
  return { forge, token };
}

/** The pull request's body when none is given: the job's description, and where the job is. */
function defaultBody(ctx: ServerContext, job: JobRow): string {
  const link = ctx.config.publicUrl ? `${ctx.config.publicUrl.replace(/\/+$/, '')}/jobs/${job.id}` : `job ${job.id}`;
  const description = job.description.trim();
  return `${description ? `${description}\n\n` : ''}Landed by lazyaf from ${link}.`;
}
