import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { credentialArgs } from '../git-auth.js';
import { branchesToPush, gitEnv, gitShown, pushRejection, repoRoot, type BranchChoice } from '../local-git.js';
import { HOW_TO_LINK, linkedCheckout } from '../linked-checkout.js';
import { clientOptions, type GlobalOptions } from '../options.js';

export function registerPush(program: Command): void {
  program
    .command('push')
    .option('--branch <branch>', 'push this branch (default: the current branch)')
    .option('--all-branches', 'push every local branch')
    .action(async (opts: GlobalOptions & BranchChoice, cmd: Command) => {
      await push(opts, cmd);
    });
}

async function push(opts: BranchChoice, cmd: Command): Promise<void> {
  const root = await repoRoot(process.cwd());
  const linked = await linkedCheckout(root, clientOptions(cmd));
  if (!linked) throw new CliError(`no "lazyaf" remote in ${root}; link this checkout to lazyaf first: ${HOW_TO_LINK}`);
  const { url, client, repo } = linked;
  const { branches } = await branchesToPush(root, opts);

  process.stderr.write(`Pushing ${branches.length === 1 ? `branch ${branches[0]}` : `${branches.length} branches`} to lazyaf repo ${repo.name}\n`);
  const refspecs = branches.map((b) => `refs/heads/${b}:refs/heads/${b}`);
  await gitShown(
    [...credentialArgs(url), 'push', '--progress', 'lazyaf', ...refspecs],
    root,
    gitEnv(client.server, client.token),
    'git push to lazyaf',
    explainRefusal,
  );
  process.stdout.write(`Pushed ${branches.join(', ')} to lazyaf repo ${repo.name} (${repo.id})\n`);
}

/** A refused branch: lazyaf keeps history only ever extended, so the checkout must take in what lazyaf has first. */
function explainRefusal(stderr: string): string | undefined {
  const refused = pushRejection(stderr);
  if (!refused) return undefined;
  const { branch, reason } = refused;
  if (/non-fast-forward|fetch first|stale info/.test(reason)) {
    return `git push to lazyaf was rejected: ${branch} on lazyaf has commits this checkout does not have (${reason}); take them in first (git pull lazyaf ${branch}), then push again`;
  }
  return `git push to lazyaf was rejected: ${branch} (${reason})`;
}
