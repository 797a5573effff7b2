import { GitError, lastGitMessage } from '../shared/git.js';
import { backoffDelay, sleep } from './backoff.js';

/** What git says when the server is down, restarting, overloaded, or died mid-transfer: worth another try. */
const TRANSIENT_GIT =
  /Failed to connect|Couldn't connect|Connection refused|Connection reset|Connection timed out|Operation timed out|Empty reply from server|Recv failure|RPC failed|returned error: 50[0-4]|HTTP 50[0-4]|early EOF|unexpected disconnect|remote end hung up|transfer closed|index-pack|bad pack header|did not send all necessary objects/i;

export interface GitRetryOptions {
  signal?: AbortSignal;
  /** Told once per step that the server is unreachable (with git's own reason). */
  log?: (line: string) => void;
  /** Give up after this long and let the last error through. */
  limitMs?: number;
}

/**
 * Runs a git step that talks to the lazyaf server, again and again with backoff and jitter while
 * the server is unreachable, so that a server restart does not fail the job. Stops at once when
 * the signal aborts (the job was cancelled or its lease is gone).
 */
export async function retryTransientGit<T>(step: () => Promise<T>, opts: GitRetryOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.limitMs ?? 10 * 60_000);
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (!(err instanceof GitError) || !TRANSIENT_GIT.test(err.result.stderr) || Date.now() > deadline) throw err;
      if (attempt === 0) opts.log?.(`server unreachable (${lastGitMessage(err.result.stderr)}); retrying`);
      await sleep(backoffDelay(attempt), opts.signal);
    }
  }
}
