import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { basicOrBearerToken, type Principal, type TokenResolver } from '../auth.js';
import type { RepoStore, RepoRow } from '../store/repos.js';
import { ApiError } from '../errors.js';
import { bareRepoPath, REPO_ID_RE } from './bare.js';

type Service = 'git-upload-pack' | 'git-receive-pack';

export interface GitHttpOptions {
  repos: RepoStore;
  reposDir: string;
  hooksDir: string;
  resolveToken: TokenResolver;
  /** The largest pack one push may send; 0 = no limit. */
  maxPushBytes: number;
  /**
   * Called once receive-pack has run, so branch views and events update at once. It reflects
   * the repo as it is (some refs may have been refused, or git stopped after moving them), so
   * it must be idempotent. The push's response ends only when the returned promise settles.
   */
  onPush: (repo: RepoRow, principal: Principal) => void | Promise<void>;
}

/** `Git-Protocol: version=2` and the like; anything else is refused before it reaches git's environment. */
const GIT_PROTOCOL_RE = /^[A-Za-z0-9._-]+(=[A-Za-z0-9._-]*)?(:[A-Za-z0-9._-]+(=[A-Za-z0-9._-]*)?)*$/;
/**
 * How git is stopped when its client goes away: SIGTERM lets git remove its lock files and
 * quarantine (SIGKILL would leave refs/heads/x.lock behind and block every later push).
 */
const STOP: NodeJS.Signals = 'SIGTERM';

function pktLine(text: string): string {
  return (text.length + 4).toString(16).padStart(4, '0') + text;
}

/**
 * git's smart HTTP protocol over the system git. Every request spawns `git upload-pack` or
 * `git receive-pack --stateless-rpc` and streams the request body into it and its output back,
 * with backpressure both ways: a pack is never held in memory. Headers are sent only once git
 * has produced its first byte, so a request git refuses gets a 4xx instead of a broken 200.
 */
export async function gitHttpRoutes(app: FastifyInstance, opts: GitHttpOptions): Promise<void> {
  const spawnErrors = new WeakMap<ChildProcess, Error>();
  const passStream = (_req: FastifyRequest, payload: Readable, done: (err: Error | null, body?: unknown) => void) => done(null, payload);
  app.addContentTypeParser('application/x-git-upload-pack-request', passStream);
  app.addContentTypeParser('application/x-git-receive-pack-request', passStream);

  /** Checks auth and that the repo exists; returns the repo, its path and who is asking (a job token's ref rule is applied later). */
  function authorize(req: FastifyRequest, reply: FastifyReply): { repo: RepoRow; repoPath: string; principal: Principal } {
    const segment = (req.params as { repo: string }).repo;
    const repoId = segment.endsWith('.git') ? segment.slice(0, -'.git'.length) : '';
    const token = basicOrBearerToken(req);
    const principal = token ? opts.resolveToken(token) : undefined;
    if (!principal) {
      reply.header('WWW-Authenticate', 'Basic realm="lazyaf", charset="UTF-8"');
      throw new ApiError(401, token ? 'invalid token' : 'authentication required');
    }
    // The id is checked against the database before anything touches the filesystem.
    const repo = REPO_ID_RE.test(repoId) ? opts.repos.get(repoId) : undefined;
    if (!repo) throw new ApiError(404, 'repository not found');
    if (principal.kind === 'job' && principal.repoId !== repo.id) throw new ApiError(403, 'this token is not valid for this repository');
    const repoPath = bareRepoPath(opts.reposDir, repo.id);
    // git cannot even start in a directory that is gone; say so instead of failing obscurely.
    if (!existsSync(repoPath)) {
      req.log.warn({ repo: repo.id, repoPath }, 'bare repository is missing');
      throw new ApiError(404, 'repository not found (its storage is missing)');
    }
    return { repo, repoPath, principal };
  }

  function protocolEnv(req: FastifyRequest): Record<string, string> {
    const header = req.headers['git-protocol'];
    if (header === undefined) return {};
    if (typeof header !== 'string' || header.length > 256 || !GIT_PROTOCOL_RE.test(header)) throw new ApiError(400, 'invalid Git-Protocol header');
    return { GIT_PROTOCOL: header };
  }

  /** Arguments and environment for one git service, with the ref rules for this principal. */
  function serviceCommand(service: Service, principal: Principal): { args: string[]; env: Record<string, string> } {
    const args: string[] = [];
    const env: Record<string, string> = {};
    if (service === 'git-receive-pack') {
      args.push('-c', `core.hooksPath=${opts.hooksDir}`, ...receiveChecks(opts.maxPushBytes));
      if (principal.kind === 'job') {
        // A job may push only its own branch; it may rewrite it, since a retried attempt starts over.
        env.LAZYAF_ALLOWED_REF = `refs/heads/${principal.branch}`;
        args.push('-c', 'receive.denyNonFastForwards=false');
      }
    }
    args.push(service.slice(4));
    return { args, env };
  }

  /** `leaseChannel` adds fd 3, on which the pre-receive hook asks whether a job's lease still holds. */
  function spawnGit(args: string[], cwd: string, env: Record<string, string>, leaseChannel = false): ChildProcess {
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

  /**
   * A job's lease is checked again when its refs are about to move, not only when the request
   * started: a push whose body trickles in can outlive its attempt (expired, cancelled, finished).
   * The pre-receive hook asks on fd 3, a socket to this process that receive-pack and its hook
   * inherit, and the answer comes from the database through the same token lookup as the
   * request's. No secret travels, no port is opened, and a hook that cannot ask refuses the push.
   * (The refs move a few milliseconds after the answer; a lease ending inside that gap is not seen.)
   */
  function answerLeaseChecks(child: ChildProcess, token: string, attemptId: string, log: FastifyBaseLogger): void {
    const channel = child.stdio[3] as Duplex | null;
    if (!channel) return; // git did not start: there is no hook to answer.
    channel.on('error', () => {});
    channel.on('data', () => {
      // In a child's event handler an exception would end the server: a lookup that fails refuses the push.
      let live = false;
      try {
        const now = opts.resolveToken(token);
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

  /** Resolves with git's exit code and signal once it has exited and its output is closed. */
  function closed(child: ChildProcess): Promise<[number | null, NodeJS.Signals | null]> {
    return new Promise((resolve) => child.on('close', (code, signal) => resolve([code, signal])));
  }

  /**
   * Waits until git has written something (→ true) or exited without a byte (→ false, with its
   * stderr in `stderr`). The stream is not consumed, so it can be handed to Fastify whole.
   */
  async function firstOutput(child: ChildProcess, stderr: Buffer[]): Promise<boolean> {
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

  function gitFailure(child: ChildProcess, stderr: Buffer[]): ApiError {
    if (spawnErrors.has(child)) return new ApiError(503, 'could not start git');
    const text = Buffer.concat(stderr).toString('utf8').trim().split('\n').at(-1) ?? '';
    return new ApiError(400, text.replace(/^fatal:\s*/, '') || 'git refused the request');
  }

  function sendError(reply: FastifyReply, err: unknown): FastifyReply {
    if (err instanceof ApiError) return reply.code(err.statusCode).send({ statusCode: err.statusCode, error: 'git', message: err.message });
    throw err;
  }

  function killOnDisconnect(reply: FastifyReply, child: ChildProcess): void {
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished && child.exitCode === null) child.kill(STOP);
    });
  }

  /**
   * When git answered without reading the whole body (a pack over the size limit, a request it
   * refused), the rest of the body is never read: the connection would sit paused, holding its
   * socket, until the client gave up. It is closed once the client had a moment to read the answer.
   */
  function closeIfBodyUnread(req: FastifyRequest, reply: FastifyReply): void {
    // Node detaches the socket from the request once the response is done: keep it from now.
    const socket = req.raw.socket;
    reply.raw.on('finish', () => {
      if (!req.raw.complete) setTimeout(() => socket.destroy(), 1000);
    });
  }

  // Before any body is read: git routes stream theirs, but one with another content type would be parsed.
  app.addHook('onRequest', async (req, reply) => {
    try {
      authorize(req, reply);
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.get('/git/:repo/info/refs', { schema: { summary: 'Git smart HTTP: list the refs', tags: ['git'] } }, async (req, reply) => {
    try {
      const service = (req.query as { service?: string }).service;
      if (service !== 'git-upload-pack' && service !== 'git-receive-pack') {
        throw new ApiError(403, 'only smart HTTP is served: ?service=git-upload-pack or git-receive-pack');
      }
      const { repoPath, principal } = authorize(req, reply);
      const env = protocolEnv(req);
      const { args, env: serviceEnv } = serviceCommand(service, principal);
      const child = spawnGit([...args, '--stateless-rpc', '--advertise-refs', '.'], repoPath, { ...env, ...serviceEnv });
      killOnDisconnect(reply, child);
      child.stdin!.end();
      const stderr: Buffer[] = [];
      if (!(await firstOutput(child, stderr))) throw gitFailure(child, stderr);
      reply
        .header('Content-Type', `application/x-${service}-advertisement`)
        .header('Cache-Control', 'no-cache, max-age=0, must-revalidate')
        .header('Expires', 'Fri, 01 Jan 1980 00:00:00 GMT');
      // Protocol v2 starts with the capability list; v0/v1 clients expect the service line first.
      if (env.GIT_PROTOCOL?.includes('version=2')) return reply.send(child.stdout);
      const prefix = Buffer.from(pktLine(`# service=${service}\n`) + '0000');
      const stdout = child.stdout!;
      return reply.send(
        Readable.from(
          (async function* () {
            yield prefix;
            yield* stdout;
          })(),
          { objectMode: false },
        ),
      );
    } catch (err) {
      return sendError(reply, err);
    }
  });

  const rpc = (service: Service) => async (req: FastifyRequest, reply: FastifyReply) => {
    let child: ChildProcess | undefined;
    try {
      const { repo, repoPath, principal } = authorize(req, reply);
      const env = protocolEnv(req);
      const { args, env: serviceEnv } = serviceCommand(service, principal);
      const leaseChecked = service === 'git-receive-pack' && principal.kind === 'job';
      child = spawnGit([...args, '--stateless-rpc', '.'], repoPath, { ...env, ...serviceEnv }, leaseChecked);
      const proc = child;
      if (leaseChecked) answerLeaseChecks(proc, basicOrBearerToken(req) ?? '', principal.attemptId, req.log);
      killOnDisconnect(reply, proc);
      closeIfBodyUnread(req, reply);
      const exited = closed(proc);
      const body = req.body as Readable;
      const encoding = String(req.headers['content-encoding'] ?? '').toLowerCase();
      const source: Readable[] = encoding === 'gzip' || encoding === 'x-gzip' ? [body, zlib.createGunzip()] : [body];
      let inputError: Error | undefined;
      // The body flows into git as git reads it; a broken body (bad gzip) stops git.
      const feeding = (pipeline as (...s: unknown[]) => Promise<void>)(...source, proc.stdin!).catch((err: Error) => {
        inputError = err;
        proc.kill(STOP);
      });
      const stderr: Buffer[] = [];
      const hasOutput = await firstOutput(proc, stderr);
      const result = () => reply.header('Content-Type', `application/x-${service}-result`).header('Cache-Control', 'no-cache, max-age=0, must-revalidate');
      // The server takes in whatever receive-pack did, even if its client has gone and git was
      // stopped after the refs moved: onPush runs whatever git's exit code.
      const takeIn = () =>
        Promise.resolve()
          .then(() => opts.onPush(repo, principal))
          .catch((err: unknown) => req.log.warn({ err }, 'post-push update failed'));
      if (!hasOutput) {
        await feeding;
        const [code] = await exited;
        // (A clean exit without a word is git's probe or an empty push: nothing moved.)
        if (service === 'git-receive-pack' && code !== 0) await takeIn();
        if (inputError && 'code' in inputError && String(inputError.code).startsWith('Z_')) throw new ApiError(400, 'request body is not valid gzip');
        // Nothing to say is a valid answer: git's probe before a large (chunked) request is a bare flush.
        if (code === 0 && !inputError) return result().send('');
        throw gitFailure(proc, stderr);
      }
      if (service !== 'git-receive-pack') return result().send(proc.stdout);
      // A push is answered in full only once git has exited and the server has taken it in
      // (default branch, events): a client that sees its push succeed sees its effects too.
      const settled = exited.then(takeIn);
      const stdout = proc.stdout!;
      return result().send(
        Readable.from(
          (async function* () {
            yield* stdout;
            await settled;
          })(),
          { objectMode: false },
        ),
      );
    } catch (err) {
      child?.kill(STOP);
      return sendError(reply, err);
    }
  };

  app.post('/git/:repo/git-upload-pack', { schema: { summary: 'Git smart HTTP: clone or fetch', tags: ['git'] } }, rpc('git-upload-pack'));
  app.post('/git/:repo/git-receive-pack', { schema: { summary: 'Git smart HTTP: push', tags: ['git'] } }, rpc('git-receive-pack'));

  // The dumb protocol's HEAD file: lets tools see the default branch without a pack negotiation.
  app.get('/git/:repo/HEAD', { schema: { summary: "The repo's HEAD (its default branch)", tags: ['git'] } }, async (req, reply) => {
    try {
      const { repoPath } = authorize(req, reply);
      const head = await fs.readFile(path.join(repoPath, 'HEAD'), 'utf8');
      return reply.header('Content-Type', 'text/plain').header('Cache-Control', 'no-cache').send(head);
    } catch (err) {
      return sendError(reply, err);
    }
  });
}

/**
 * Checks on every pushed pack, passed at spawn time so repos created by older versions get them
 * too: fsck refuses trees with `.git`, `..` or other entries git itself would never write (they
 * left repos failing `git fsck`), and a pack over the size limit is refused by git before it
 * lands, with a "pack exceeds maximum allowed size" the client sees.
 */
function receiveChecks(maxPushBytes: number): string[] {
  return ['-c', 'receive.fsckObjects=true', ...(maxPushBytes > 0 ? ['-c', `receive.maxInputSize=${maxPushBytes}`] : [])];
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
