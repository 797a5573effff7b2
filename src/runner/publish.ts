import { git, gitOk, lastGitMessage, type GitOptions } from '../shared/git.js';
import type { Assignment } from '../shared/protocol.js';
import { agentIdentityEnv, gitEnv } from './env.js';
import { retryTransientGit } from './git-retry.js';
import { step, WorkspaceError, type Workspace } from './workspace.js';

export type PublishJob = Pick<Assignment, 'job_id' | 'title' | 'branch' | 'clone_url' | 'job_token'>;

/**
 * After a command succeeded: commits what it left uncommitted (as "lazyaf agent", with the job
 * title as message; commits the command made itself are kept), and if HEAD moved from the base
 * commit pushes it to the job branch on the internal server, forced, since a retried attempt
 * starts over. Returns the pushed commit, or null when the job changed nothing.
 */
export async function publishChanges(job: PublishJob, ws: Pick<Workspace, 'dir' | 'baseCommit'>, opts: { signal?: AbortSignal; log?: (line: string) => void } = {}): Promise<string | null> {
  const local: GitOptions = { cwd: ws.dir, env: { ...gitEnv(), ...agentIdentityEnv() }, signal: opts.signal };
  await step(gitOk(['add', '-A'], local), 'git add failed');
  const staged = await git(['diff', '--cached', '--quiet'], local);
  if (staged.code === 1) {
    const message = job.title.trim() || `lazyaf job ${job.job_id}`;
    await step(gitOk(['commit', '-q', '--no-verify', '-m', message], local), 'git commit failed');
  } else if (staged.code !== 0) {
    throw new WorkspaceError(`git diff failed: ${lastGitMessage(staged.stderr) || `exit code ${staged.code}`}`);
  }

  const head = (await step(gitOk(['rev-parse', 'HEAD'], local), 'cannot read HEAD')).trim();
  if (head === ws.baseCommit) return null;
  opts.log?.(`pushing ${job.branch} (${head.slice(0, 12)})`);
  const remote: GitOptions = { cwd: ws.dir, env: gitEnv({ url: job.clone_url, token: job.job_token }), signal: opts.signal };
  const push = () => gitOk(['push', '-q', '--force', '--no-verify', job.clone_url, `HEAD:refs/heads/${job.branch}`], remote);
  await step(retryTransientGit(push, { signal: opts.signal, log: opts.log }), 'git push failed');
  return head;
}
