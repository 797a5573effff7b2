import type { ChildProcess } from 'node:child_process';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import type { Principal, TokenResolver } from '../auth.js';

/**
 * What stands between a push and the bare repository: checks on every pack, a job token's single
 * branch, and its lease asked again when the refs are about to move. git enforces them through
 * the configuration and environment `receiveGuard` gives receive-pack and the pre-receive hook
 * below, which `stores.ts` writes into the data dir at start.
 */

export interface PushLimits {
  /** The data dir's hooks folder, where PRE_RECEIVE_HOOK is. */
  hooksDir: string;
  /** The largest pack one push may send; 0 = no limit. */
  maxPushBytes: number;
}

/**
 * The `-c` options and environment of `git receive-pack` for this principal. Every pushed pack
 * is checked, with options passed at spawn time so repos created by older versions get them too:
 * fsck refuses trees with `.git`, `..` or other entries git itself would never write (they left
 * repos failing `git fsck`), and a pack over the size limit is refused by git before it lands,
 * with a "pack exceeds maximum allowed size" the client sees.
 */
export function receiveGuard(principal: Principal, limits: PushLimits): { args: string[]; env: Record<string, string> } {
  const args = ['-c', `core.hooksPath=${limits.hooksDir}`, '-c', 'receive.fsckObjects=true'];
  if (limits.maxPushBytes > 0) args.push('-c', `receive.maxInputSize=${limits.maxPushBytes}`);
  if (principal.kind !== 'job') return { args, env: {} };
  // A job may push only its own branch; it may rewrite it, since a retried attempt starts over.
  args.push('-c', 'receive.denyNonFastForwards=false');
  return { args, env: { LAZYAF_ALLOWED_REF: `refs/heads/${principal.branch}` } };
}

/** Whether a push by this principal needs the lease channel (fd 3) and answerLeaseChecks. */
export const leaseChecked = (principal: Principal): principal is Extract<Principal, { kind: 'job' }> => principal.kind === 'job';

/**
 * A job's lease is checked again when its refs are about to move, not only when the request
 * started: a push whose body trickles in can outlive its attempt (expired, cancelled, finished).
 * The pre-receive hook asks on fd 3, a socket to this process that receive-pack and its hook
 * inherit, and the answer comes from the database through the same token lookup as the
 * request's. No secret travels, no port is opened, and a hook that cannot ask refuses the push.
 * (The refs move a few milliseconds after the answer; a lease ending inside that gap is not seen.)
 */
export function answerLeaseChecks(child: ChildProcess, token: string, attemptId: string, resolveToken: TokenResolver, log: FastifyBaseLogger): void {
  const channel = child.stdio[3] as Duplex | null;
  if (!channel) return; // git did not start: there is no hook to answer.
  channel.on('error', () => {});
  channel.on('data', () => {
    // In a child's event handler an exception would end the server: a lookup that fails refuses the push.
    let live = false;
    try {
      const now = resolveToken(token);
      live = now?.kind === 'job' && now.attemptId === attemptId;
    } catch (err) {
      log.error({ err }, "could not check a pushing job's lease");
      channel.write('the server could not check the lease of this job\n');
      return;
    }
    channel.write(live ? 'ok\n' : "the lease of this job's attempt ended while the push was arriving (it expired, or the job was cancelled or finished)\n");
  });
  // A detached `git gc --auto` would hold the socket open; git's own end is what matters.
  child.once('exit', () => channel.destroy());
}

/**
 * The pre-receive hook that enforces a job token's single branch, then asks the server on fd 3
 * whether the job's lease still holds (see answerLeaseChecks). Written into the data dir at start.
 */
export const PRE_RECEIVE_HOOK = `#!/bin/sh
# Installed by lazyaf. When the server sets LAZYAF_ALLOWED_REF (a job's push): refuses any other
# ref, and asks the server on fd 3 whether the job's lease still holds.
[ -z "$LAZYAF_ALLOWED_REF" ] && exit 0
status=0
while read -r old new ref; do
  if [ "$ref" != "$LAZYAF_ALLOWED_REF" ]; then
    echo "lazyaf: this token may push only $LAZYAF_ALLOWED_REF, not $ref" >&2
    status=1
  fi
done
[ $status -eq 0 ] || exit $status
answer=''
if ! printf 'lease?\\n' 2>/dev/null >&3 || ! read -r answer <&3 || [ "$answer" != ok ]; then
  echo "lazyaf: \${answer:-could not check the lease of this job}" >&2
  exit 1
fi
`;
