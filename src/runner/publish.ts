import path from 'node:path';
import { PassThrough } from 'node:stream';
import { gitOk, shellQuote, type GitOptions } from '../shared/git.js';
import type { Assignment } from '../shared/protocol.js';
import { agentIdentityEnv, gitEnv } from './env.js';
import { runCommand } from './execute.js';
import { retryTransientGit } from './git-retry.js';
import { refuseCredentials } from './push-scan.js';
import type { Wall } from './sandbox.js';
import { fetchedCommit, step, WorkspaceError, type Workspace } from './workspace.js';

export type PublishJob = Pick<Assignment, 'job_id' | 'title' | 'branch' | 'clone_url' | 'job_token' | 'agent_run' | 'agent_env' | 'environment'>;

export interface PublishOptions {
  /** The job's sandbox: every git command that reads the job's repository runs inside it. */
  sandbox?: Wall;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** A paragraph after the title in the commit message (what the job's command did not finish). */
  note?: string;
}

/** Commits what the command left, as the agent, without any hook: the message comes in the environment, never through a shell. */
const COMMIT_SCRIPT = 'git add -A && { git diff --cached --quiet || git commit -q --no-verify -m "$LAZYAF_COMMIT_MESSAGE"; }';

/** Plenty for `git add` of a large tree; a job that planted something slow in its own repo cannot hold the runner. */
const COMMIT_TIMEOUT_MS = 5 * 60_000;

/**
 * After a command ended, whatever its outcome: commits what it left uncommitted (as "lazyaf
 * agent", with the job title as message; commits the command made itself are kept), and if HEAD
 * moved from the base commit pushes it to the job branch on the internal server, forced, since a
 * retried attempt starts over. Returns the pushed commit, or null when the job changed nothing.
 *
 * The job's repository is the job's: its config, hooks and refs may be traps. So the commit runs
 * in the job's sandbox, and the result is read out of it by `git upload-pack` in the sandbox too,
 * into the runner's cache (objects checked on the way in). The push then starts from the cache,
 * which only the runner writes. Nothing is pushed that holds a credential the job was given
 * (`push-scan.ts`).
 */
export async function publishChanges(
  job: PublishJob,
  ws: Pick<Workspace, 'dir' | 'cacheDir' | 'baseCommit'>,
  opts: PublishOptions = {},
): Promise<string | null> {
  await commitLeftovers(job, ws, opts);
  const head = await importResult(ws, opts);
  if (head === ws.baseCommit) return null;
  // A repo's secrets too: setup writing its token into a tracked `.npmrc` must not publish it.
  const declared = { ...job.environment?.setup_secrets, ...job.environment?.job_secrets };
  await refuseCredentials(ws.cacheDir, ws.baseCommit, head, job.agent_run?.env ?? job.agent_env ?? {}, { signal: opts.signal, declared });
  opts.log?.(`pushing ${job.branch} (${head.slice(0, 12)})`);
  const remote: GitOptions = { cwd: ws.cacheDir, env: gitEnv({ url: job.clone_url, token: job.job_token }), signal: opts.signal };
  const push = () => gitOk(['push', '-q', '--force', '--no-verify', job.clone_url, `${head}:refs/heads/${job.branch}`], remote);
  await step(retryTransientGit(push, { signal: opts.signal, log: opts.log }), 'git push failed');
  return head;
}

async function commitLeftovers(job: PublishJob, ws: Pick<Workspace, 'dir' | 'cacheDir'>, opts: PublishOptions): Promise<void> {
  const argv = ['sh', '-c', COMMIT_SCRIPT];
  const output = new PassThrough();
  let said = '';
  output.on('data', (c: Buffer) => (said = (said + c.toString('utf8')).slice(-4000)));
  const result = await runCommand({
    command: opts.sandbox ? opts.sandbox.wrap(argv, { workspace: ws.dir, readOnly: [path.join(ws.cacheDir, 'objects')] }) : argv,
    cwd: ws.dir,
    env: { ...gitEnv(), ...agentIdentityEnv(), LAZYAF_COMMIT_MESSAGE: commitMessage(job, opts.note) },
    timeoutMs: COMMIT_TIMEOUT_MS,
    output,
    signal: opts.signal,
  });
  if (opts.signal?.aborted) throw Object.assign(new Error('stopped'), { name: 'AbortError' });
  if (result.exitCode !== 0) {
    const why = result.spawnError ?? (result.timedOut ? 'timed out' : said.trim().split('\n').at(-1) || `exit code ${result.exitCode}`);
    throw new WorkspaceError(`cannot commit the job's changes: ${why.slice(0, 300)}`);
  }
}

function commitMessage(job: PublishJob, note: string | undefined): string {
  const title = job.title.trim() || `lazyaf job ${job.job_id}`;
  return note ? `${title}\n\n${note}` : title;
}

/** Fetches the job's HEAD into the cache and returns its commit. */
async function importResult(ws: Pick<Workspace, 'dir' | 'cacheDir'>, opts: PublishOptions): Promise<string> {
  const uploadPack = opts.sandbox
    ? opts.sandbox.wrap(['git', 'upload-pack'], { workspace: ws.dir, workspaceReadOnly: true, readOnly: [path.join(ws.cacheDir, 'objects')] })
    : ['git', 'upload-pack'];
  const cache: GitOptions = { cwd: ws.cacheDir, env: gitEnv(), signal: opts.signal };
  await step(
    gitOk(['-c', 'fetch.fsckObjects=true', 'fetch', '-q', '--no-tags', `--upload-pack=${uploadPack.map(shellQuote).join(' ')}`, ws.dir, 'HEAD'], cache),
    "cannot read the job's result",
  );
  const fetched = fetchedCommit(ws.cacheDir);
  if (!fetched) throw new WorkspaceError("cannot read the job's result: its HEAD is not a commit");
  return fetched;
}
