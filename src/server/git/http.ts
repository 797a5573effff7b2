import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth.js';
import { ApiError, errorBody } from '../errors.js';
import type { RepoRow } from '../store/repos.js';
import { collectingWhilePassing, collectWhileStreaming } from '../young-garbage.js';
import { authorizeGit, type GitAccess, type GitAccessOptions } from './access.js';
import { answerLeaseChecks, leaseChecked, receiveGuard, type PushLimits } from './push-guard.js';
import { closed, closeIfBodyUnread, firstOutput, gitFailure, killOnDisconnect, spawnGit, STOP } from './spawn.js';

type Service = 'git-upload-pack' | 'git-receive-pack';

export interface GitHttpOptions extends GitAccessOptions, PushLimits {
  /**
   * Called once receive-pack has run, so branch views and events update at once. It reflects
   * the repo as it is (some refs may have been refused, or git stopped after moving them), so
   * it must be idempotent. The push's response ends only when the returned promise settles.
   */
  onPush: (repo: RepoRow, principal: Principal) => void | Promise<void>;
}

/** `Git-Protocol: version=2` and the like; anything else is refused before it reaches git's environment. */
const GIT_PROTOCOL_RE = /^[A-Za-z0-9._-]+(=[A-Za-z0-9._-]*)?(:[A-Za-z0-9._-]+(=[A-Za-z0-9._-]*)?)*$/;

function pktLine(text: string): string {
  return (text.length + 4).toString(16).padStart(4, '0') + text;
}

function protocolEnv(req: FastifyRequest): Record<string, string> {
  const header = req.headers['git-protocol'];
  if (header === undefined) return {};
  if (typeof header !== 'string' || header.length > 256 || !GIT_PROTOCOL_RE.test(header)) throw new ApiError(400, 'invalid Git-Protocol header');
  return { GIT_PROTOCOL: header };
}

/**
 * An error answered by a git route itself: in the API's one error shape, but sent here because
 * a 503 (git could not start) is the client's to retry, where the app's handler hides every 5xx.
 */
function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof ApiError) return reply.code(err.statusCode).send(errorBody(err.statusCode, err.message));
  throw err;
}

/**
 * git's smart HTTP protocol over the system git. Every request spawns `git upload-pack` or
 * `git receive-pack --stateless-rpc` and streams the request body into it and its output back,
 * with backpressure both ways: a pack is never held in memory. Headers are sent only once git
 * has produced its first byte, so a request git refuses gets a 4xx instead of a broken 200.
 *
 * Module map: `access.ts` decides who may use the request (once, before its body is read),
 * `push-guard.ts` what a push may do, `spawn.ts` runs git; this file holds the routes.
 */
export async function gitHttpRoutes(app: FastifyInstance, opts: GitHttpOptions): Promise<void> {
  const passStream = (_req: FastifyRequest, payload: Readable, done: (err: Error | null, body?: unknown) => void) => done(null, payload);
  app.addContentTypeParser('application/x-git-upload-pack-request', passStream);
  app.addContentTypeParser('application/x-git-receive-pack-request', passStream);

  const granted = new WeakMap<FastifyRequest, GitAccess>();
  /**
   * Every git route checks its own tokens (git's Basic auth, a job token's repo), not the admin
   * check of /api: it is authorized here, before any body is read (git routes stream theirs,
   * but one with another content type would be parsed), and its handler reads the result.
   */
  const onRequest = async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      granted.set(req, authorizeGit(req, reply, opts));
    } catch (err) {
      return sendError(reply, err);
    }
  };
  const route = (summary: string) => ({ config: { auth: 'custom' as const }, schema: { summary, tags: ['git'] }, onRequest });
  const accessOf = (req: FastifyRequest): GitAccess => granted.get(req)!;

  /** The arguments and environment of one git service for this principal, with the push guard's rules for receive-pack. */
  function serviceCommand(service: Service, principal: Principal): { args: string[]; env: Record<string, string> } {
    const guard = service === 'git-receive-pack' ? receiveGuard(principal, opts) : { args: [], env: {} };
    return { args: [...guard.args, service.slice(4)], env: guard.env };
  }

  app.get('/git/:repo/info/refs', route('Git smart HTTP: list the refs'), async (req, reply) => {
    try {
      const service = (req.query as { service?: string }).service;
      if (service !== 'git-upload-pack' && service !== 'git-receive-pack') {
        throw new ApiError(403, 'only smart HTTP is served: ?service=git-upload-pack or git-receive-pack');
      }
      const { repoPath, principal } = accessOf(req);
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
      const { repo, repoPath, principal, token } = accessOf(req);
      // Only git's own content type reaches here as a stream (passStream): a body another parser took (JSON) is no pack.
      if (!(req.body instanceof Readable)) throw new ApiError(415, `the body of ${service} must be application/x-${service}-request`);
      const env = protocolEnv(req);
      const { args, env: serviceEnv } = serviceCommand(service, principal);
      const checksLease = service === 'git-receive-pack' && leaseChecked(principal);
      child = spawnGit([...args, '--stateless-rpc', '.'], repoPath, { ...env, ...serviceEnv }, checksLease);
      const proc = child;
      if (checksLease) answerLeaseChecks(proc, token, principal.attemptId, opts.resolveToken, req.log);
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
      // A pack's copies of the body are dead once git has them: freed every few MiB, not 32 (young-garbage.ts).
      collectWhileStreaming(body);
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
      const stdout = proc.stdout!;
      // A clone's pack comes from git's pipe a fresh Buffer a read: collected like a push's body.
      if (service !== 'git-receive-pack') return result().send(Readable.from(collectingWhilePassing(stdout), { objectMode: false }));
      // A push is answered in full only once git has exited and the server has taken it in
      // (default branch, events): a client that sees its push succeed sees its effects too.
      const settled = exited.then(takeIn);
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

  app.post('/git/:repo/git-upload-pack', route('Git smart HTTP: clone or fetch'), rpc('git-upload-pack'));
  app.post('/git/:repo/git-receive-pack', route('Git smart HTTP: push'), rpc('git-receive-pack'));

  // The dumb protocol's HEAD file: lets tools see the default branch without a pack negotiation.
  app.get('/git/:repo/HEAD', route("The repo's HEAD (its default branch)"), async (req, reply) => {
    try {
      const head = await fs.readFile(path.join(accessOf(req).repoPath, 'HEAD'), 'utf8');
      return reply.header('Content-Type', 'text/plain').header('Cache-Control', 'no-cache').send(head);
    } catch (err) {
      return sendError(reply, err);
    }
  });
}
