import { spawn, type ChildProcess } from 'node:child_process';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';

/**
 * The process side of the git server: one `git upload-pack` or `git receive-pack` per request,
 * its output awaited without being consumed, and its end tied to the client's.
 */

/**
 * How git is stopped when its client goes away: SIGTERM lets git remove its lock files and
 * quarantine (SIGKILL would leave refs/heads/x.lock behind and block every later push).
 */
export const STOP: NodeJS.Signals = 'SIGTERM';

/** The spawns that failed, for gitFailure's answer. */
const spawnErrors = new WeakMap<ChildProcess, Error>();

/**
 * Starts git in `cwd` with only the environment it needs plus `env`. `leaseChannel` adds fd 3, on
 * which the pre-receive hook asks whether a job's lease still holds (push-guard.ts).
 */
export function spawnGit(args: string[], cwd: string, env: Record<string, string>, leaseChannel = false): ChildProcess {
  const child = spawn('git', args, {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', ...env },
    stdio: leaseChannel ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
  });
  child.stdin?.on('error', () => {});
  // Without a listener a failed spawn (EAGAIN, EMFILE) would crash the server.
  child.on('error', (err) => spawnErrors.set(child, err));
  return child;
}

/** Resolves with git's exit code and signal once it has exited and its output is closed. */
export function closed(child: ChildProcess): Promise<[number | null, NodeJS.Signals | null]> {
  return new Promise((resolve) => child.on('close', (code, signal) => resolve([code, signal])));
}

/**
 * Waits until git has written something (→ true) or exited without a byte (→ false, with its
 * stderr in `stderr`). The stream is not consumed, so it can be handed to Fastify whole.
 */
export async function firstOutput(child: ChildProcess, stderr: Buffer[]): Promise<boolean> {
  const stdout = child.stdout!;
  child.stderr!.on('data', (c: Buffer) => {
    if (stderr.reduce((n, b) => n + b.length, 0) < 64 * 1024) stderr.push(c);
  });
  return new Promise((resolve) => {
    const onReadable = () => {
      if (stdout.readableLength > 0) {
        cleanup();
        resolve(true);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(false);
    };
    const cleanup = () => {
      stdout.off('readable', onReadable);
      stdout.off('end', onEnd);
      stdout.off('close', onEnd);
    };
    stdout.on('readable', onReadable);
    stdout.on('end', onEnd);
    stdout.on('close', onEnd);
  });
}

/** Why git ended without a word: it could not start (503), or the last line it printed (400). */
export function gitFailure(child: ChildProcess, stderr: Buffer[]): ApiError {
  if (spawnErrors.has(child)) return new ApiError(503, 'could not start git');
  const text = Buffer.concat(stderr).toString('utf8').trim().split('\n').at(-1) ?? '';
  return new ApiError(400, text.replace(/^fatal:\s*/, '') || 'git refused the request');
}

/** A client that hangs up before its answer is complete stops its git. */
export function killOnDisconnect(reply: FastifyReply, child: ChildProcess): void {
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished && child.exitCode === null) child.kill(STOP);
  });
}

/**
 * When git answered without reading the whole body (a pack over the size limit, a request it
 * refused), the rest of the body is never read: the connection would sit paused, holding its
 * socket, until the client gave up. It is closed once the client had a moment to read the answer.
 */
export function closeIfBodyUnread(req: FastifyRequest, reply: FastifyReply): void {
  // Node detaches the socket from the request once the response is done: keep it from now.
  const socket = req.raw.socket;
  reply.raw.on('finish', () => {
    if (!req.raw.complete) setTimeout(() => socket.destroy(), 1000);
  });
}
