import { spawn } from 'node:child_process';
import { git, lastGitMessage, nonInteractiveEnv } from '../shared/git.js';
import { CliError } from './errors.js';

/** The top folder of the work tree (or the bare repo) at `dir`, or a CliError saying it is not a repo. */
export async function repoRoot(dir: string): Promise<string> {
  const inside = await git(['rev-parse', '--absolute-git-dir'], { cwd: dir }).catch(() => undefined);
  if (!inside || inside.code !== 0) throw new CliError(`not a git repository: ${dir}`);
  const top = await git(['rev-parse', '--show-toplevel'], { cwd: dir });
  return top.code === 0 && top.stdout.trim() ? top.stdout.trim() : dir;
}

/** Environment for git children of the CLI: no prompts, and the token for lazyaf's credential helper. */
export function gitEnv(server: string, token: string | undefined): NodeJS.ProcessEnv {
  return nonInteractiveEnv({ LAZYAF_SERVER: server, ...(token ? { LAZYAF_TOKEN: token } : {}) });
}

/** Runs git with stderr shown to the user (progress), stdout captured; fails with `what` and git's last line. */
export async function gitShown(args: string[], cwd: string, env: NodeJS.ProcessEnv, what: string): Promise<void> {
  const stderrTail: string[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn('git', args, { cwd, env, stdio: ['ignore', 'inherit', 'pipe'] });
    child.stderr.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      stderrTail.push(chunk.toString('utf8'));
      if (stderrTail.length > 50) stderrTail.shift();
    });
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0) {
    const reason = lastGitMessage(stderrTail.join(''));
    throw new CliError(`${what} failed${reason ? `: ${reason}` : ''}`);
  }
}
