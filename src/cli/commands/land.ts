import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import type { BranchList, Job, JobLandResult, Repo } from '../../shared/api.js';
import { branchLandRefusal, landRefusal } from '../../shared/job-actions.js';
import { JOB_REF_RE } from '../../shared/names.js';
import { printable } from '../../shared/terminal.js';
import { git, isValidBranchName, lastGitMessage, nonInteractiveEnv, redactUrls } from '../../shared/git.js';
import { ApiClient } from '../client.js';
import { CliError, RefusedError } from '../errors.js';
import { credentialArgs } from '../git-auth.js';
import { gitEnv, gitShown, lazyafLink, pushRejection, repoRoot } from '../local-git.js';
import { clientOptions, type GlobalOptions, JOB_ARGUMENT_HELP } from '../options.js';

interface LandOptions extends GlobalOptions {
  branch?: string;
  remote: string;
  pr?: boolean;
  base?: string;
  forceWithLease?: boolean;
  fromServer?: boolean;
}

/**
 * `lazyaf land`: run in a person's checkout, it fetches a branch from lazyaf and pushes it to the
 * checkout's own remote (`origin`) with the person's credentials, then may open a pull request.
 * Not the server's land (`POST /api/repos/{id}/land`, `RepoService.pushToStoredRemote`), which
 * pushes from the server's bare repo to the repo's stored remote_url with the server's credentials.
 */
export function registerLand(program: Command): void {
  program
    .command('land')
    .argument('<job-or-repo>', `a ${JOB_ARGUMENT_HELP}; or with --branch a repo id or name on lazyaf`)
    .option('--branch <branch>', 'branch of the repo to land, e.g. lazyaf/ab12cd34 (without it, the argument is a job)')
    .option('--remote <remote>', 'remote of the local repository to push to', 'origin')
    .option('--pr', 'open a pull request with `gh pr create` after pushing')
    .option('--base <branch>', "base branch of the pull request (default: the repo's default branch)")
    .option('--force-with-lease', 'replace the branch on the remote even if it moved (only if it still holds what it held when read)')
    .option('--from-server', "land the job from the server to the repo's remote_url (POST /api/jobs/{id}/land); --pr opens the PR on the repo's forge")
    .action(async (ref: string, opts: LandOptions, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      if (opts.fromServer) return landFromServer(client, ref, opts);
      const target = opts.branch ? { repoRef: ref, branch: opts.branch } : await jobTarget(client, ref);
      await land(client, target, opts);
    });
}

/** What to land: a branch of a repo. */
interface LandTarget {
  repoRef: string;
  branch: string;
}

/** The branch of a succeeded job that committed something; any other is refused for the reason job-actions.ts gives. */
async function jobTarget(client: ApiClient, jobRef: string): Promise<LandTarget> {
  // A job is named by its id or a prefix of it (JOB_REF_RE); anything else was meant as a repo.
  if (!JOB_REF_RE.test(jobRef)) throw new CliError(`"${jobRef}" is not a job id; to land a branch of a repo: lazyaf land ${jobRef} --branch B`);
  const job = await client.request<Job>('GET', `/api/jobs/${encodeURIComponent(jobRef)}`);
  const refusal = landRefusal(job);
  if (refusal || !job.branch) throw new CliError(refusal ?? `job ${job.id.slice(0, 8)} has no branch to land`);
  const chain = job.chain ?? [];
  if (chain.length > 0)
    process.stderr.write(`${printable(job.branch)} holds the follow-up chain: ${[...chain.map((c) => c.id.slice(0, 8)), job.id.slice(0, 8)].join(' → ')}\n`);
  return { repoRef: job.repo_id, branch: job.branch };
}

/**
 * `lazyaf land JOB --from-server` (not `--server`, which names the lazyaf server for every command): the server pushes the job's branch to the repo's stored remote_url
 * with its own credentials and records the landing on the job; with --pr it opens the pull request
 * on the repo's forge (the token is the server's secret LAZYAF_FORGE_TOKEN, not `gh`).
 */
async function landFromServer(client: ApiClient, jobRef: string, opts: LandOptions): Promise<void> {
  if (opts.branch) throw new CliError('--from-server lands a job: give its id, not --branch (a branch of a repo lands from its page in the web UI)');
  if (!JOB_REF_RE.test(jobRef)) throw new CliError(`"${jobRef}" is not a job id`);
  if (opts.base && !isValidBranchName(opts.base)) throw new CliError(`invalid branch name: ${opts.base}`);
  const body = { pr: Boolean(opts.pr), force_with_lease: Boolean(opts.forceWithLease), ...(opts.base ? { base: opts.base } : {}) };
  const result = await client.request<JobLandResult>('POST', `/api/jobs/${encodeURIComponent(jobRef)}/land`, body);
  const { landing } = result;
  process.stdout.write(printable(`Landed ${landing.remote_branch} (${landing.commit.slice(0, 12)}) on ${landing.remote_url}`) + '\n');
  if (landing.pr_url) process.stdout.write(printable(`Opened pull request: ${landing.pr_url}`) + '\n');
  if (result.pr_error) throw new CliError(`the branch was landed, but no pull request was opened: ${result.pr_error}`);
}

async function land(client: ApiClient, target: LandTarget, opts: LandOptions): Promise<void> {
  const { branch } = target;
  if (!isValidBranchName(branch)) throw new CliError(`invalid branch name: ${branch}`);
  if (opts.base && !isValidBranchName(opts.base)) throw new CliError(`invalid branch name: ${opts.base}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(opts.remote)) throw new CliError(`invalid remote name: ${opts.remote}`);
  const root = await repoRoot(process.cwd());
  if ((await git(['remote', 'get-url', opts.remote], { cwd: root })).code !== 0) {
    throw new CliError(`no remote named "${opts.remote}" in ${root} (pass --remote NAME)`);
  }

  const repo = await client.request<Repo>('GET', `/api/repos/${encodeURIComponent(target.repoRef)}`);
  if (opts.branch) await mustBeWritten(client, repo, branch);
  await mustBeLinked(client, root, repo);
  const { branches } = await client.request<BranchList>('GET', `/api/repos/${repo.id}/branches`);
  const found = branches.find((b) => b.name === branch);
  if (!found) throw new CliError(`branch "${branch}" not found in lazyaf repo ${repo.name}`);

  const env = gitEnv(client.server, client.token);
  const localRef = `refs/remotes/lazyaf/${branch}`;
  process.stderr.write(`Fetching ${branch} (${found.commit.slice(0, 12)}) from lazyaf\n`);
  await gitShown(
    [...credentialArgs(repo.clone_url), 'fetch', '--no-tags', '--progress', repo.clone_url, `+refs/heads/${branch}:${localRef}`],
    root,
    env,
    'git fetch from lazyaf',
  );

  // The real remote is reached with the person's own credentials: the lazyaf token stays out of that git's environment.
  const remoteEnv = nonInteractiveEnv();
  const lease = opts.forceWithLease ? await leaseOn(root, opts.remote, branch, remoteEnv) : undefined;
  process.stderr.write(`Pushing ${branch} to ${opts.remote}${lease ? ` (replacing ${lease.slice(0, 12) || 'nothing'})` : ''}\n`);
  const pushArgs = ['push', '--progress', ...(lease === undefined ? [] : [`--force-with-lease=refs/heads/${branch}:${lease}`])];
  await gitShown([...pushArgs, opts.remote, `${localRef}:refs/heads/${branch}`], root, remoteEnv, `git push to ${opts.remote}`, (stderr) =>
    explainMoved(stderr, branch, opts.remote),
  );
  process.stdout.write(`Landed ${branch} (${found.commit.slice(0, 12)}) on ${opts.remote}\n`);

  if (opts.pr) {
    const base = opts.base ?? repo.default_branch;
    const url = await openPullRequest(root, base, branch);
    process.stdout.write(`Opened pull request${url ? `: ${url}` : ''}\n`);
  }
}

/**
 * A job's branch named with --branch is refused while its job still writes it, as the server's
 * land refuses it; once the job has finished, naming its branch is the deliberate step that lands it.
 */
async function mustBeWritten(client: ApiClient, repo: Repo, branch: string): Promise<void> {
  const jobPrefix = /^lazyaf\/([0-9a-f]{8})$/.exec(branch)?.[1];
  if (!jobPrefix) return;
  const job = await client.request<Job>('GET', `/api/jobs/${jobPrefix}`).catch((err: unknown) => {
    // No such job (a branch someone named so), or no single one: nothing is known to be writing it.
    if (err instanceof RefusedError) return undefined;
    throw err;
  });
  const refusal = job?.repo_id === repo.id ? branchLandRefusal(job) : null;
  if (refusal) throw new CliError(`cannot land ${branch}: ${refusal}`);
}

/**
 * Land pushes to the checkout's own remote, so the checkout must be one of the repo's: from
 * another project's checkout it would push the repo's whole history to that project's origin.
 * The `lazyaf` remote `lazyaf ingest` added (or a person added by hand) says which repo it is.
 */
async function mustBeLinked(client: ApiClient, root: string, repo: Repo): Promise<void> {
  const link = await lazyafLink(root);
  if (link?.repoId === repo.id) return;
  const linkedTo =
    link &&
    (await client.request<Repo>('GET', `/api/repos/${link.repoId}`).then(
      (r) => r.name,
      () => link.repoId,
    ));
  const why = linkedTo ? `is linked to lazyaf repo ${linkedTo}, not ${repo.name}` : `is not linked to lazyaf repo ${repo.name} (it has no "lazyaf" remote)`;
  const fixes = [`land from the checkout "lazyaf ingest" linked to ${linkedTo ? repo.name : 'it'}`];
  if (!linkedTo) fixes.push(`or link this one first if its origin is ${repo.name}'s remote (lazyaf link ${repo.name})`);
  if (repo.remote_url) fixes.push(`or land it on ${redactUrls(repo.remote_url)} from ${repo.name}'s page in the web UI`);
  throw new CliError(`${root} ${why}: ${fixes.join(', ')}`);
}

/** What the remote's branch holds now (empty when it has none): the lease a forced push may replace. */
async function leaseOn(root: string, remote: string, branch: string, env: NodeJS.ProcessEnv): Promise<string> {
  const listed = await git(['ls-remote', '--heads', remote, `refs/heads/${branch}`], { cwd: root, env });
  if (listed.code !== 0) throw new CliError(`cannot read ${branch} on ${remote}: ${lastGitMessage(listed.stderr) || `exit code ${listed.code}`}`);
  return /^([0-9a-f]{40,64})\t/.exec(listed.stdout)?.[1] ?? '';
}

/**
 * A landed branch that moved: the remote's tip is not in the job's branch (the job was redone
 * after it was landed, or someone pushed to it). Replacing it is the person's call.
 */
function explainMoved(stderr: string, branch: string, remote: string): string | undefined {
  const rejected = pushRejection(stderr)?.reason;
  if (rejected === 'stale info') return `${branch} on ${remote} changed while landing it; run the command again to see what it holds now`;
  if (rejected !== 'non-fast-forward' && rejected !== 'fetch first') return undefined;
  return `${branch} on ${remote} has moved: it holds commits this branch does not (was the job redone after it was landed?); to replace it, pass --force-with-lease`;
}

/** Runs `gh pr create` and returns what it printed (the PR's URL). */
async function openPullRequest(cwd: string, base: string, head: string): Promise<string> {
  const args = ['pr', 'create', '--base', base, '--head', head, '--fill'];
  const { code, stdout, stderr, missing } = await new Promise<{ code: number; stdout: string; stderr: string; missing: boolean }>((resolve) => {
    const child = spawn('gh', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', (e: NodeJS.ErrnoException) => resolve({ code: 127, stdout: '', stderr: e.message, missing: e.code === 'ENOENT' }));
    child.on('close', (c) => resolve({ code: c ?? 1, stdout: out, stderr: err, missing: false }));
  });
  if (missing)
    throw new CliError(`the branch was pushed, but no pull request was opened: the GitHub CLI "gh" is not on PATH (install it, or open the PR by hand)`);
  if (code !== 0) throw new CliError(`the branch was pushed, but "gh pr create" failed: ${lastGitMessage(stderr) || `exit code ${code}`}`);
  return stdout.trim().split('\n').at(-1) ?? '';
}
