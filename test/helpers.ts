// What every test file needs: a git with a fixed identity, temp dirs, the server (startTestServer),
// its JSON API (api), the one bounded wait (eventually) and a streamed answer read with it
// (readStream), git, the CLI and child processes.
// A test file imports this and at most one of queue-helpers.ts (runners and jobs) or
// git-helpers.ts (hostile git: fsck, raw requests, leftover processes).
import { spawn, type ChildProcess } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import type { Repo } from '../src/shared/api.js';
import type { BuiltApp } from '../src/server/app.js';
import type { ServerConfig } from '../src/server/config.js';
import { hostRelayDir } from '../src/server/pool/host-relay.js';
import { poolWorkRoot } from '../src/server/pool/launcher.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

// Every test process gets a git with no user or system config of its own, and a fixed identity.
const GIT_HOME = fs.mkdtempSync(path.join(os.tmpdir(), 'lazyaf-gitcfg-'));
fs.writeFileSync(path.join(GIT_HOME, '.gitconfig'), '[init]\n\tdefaultBranch = main\n');
// One per test file's process: gone with it (a thousand runs left a thousand of them in /tmp).
process.once('exit', () => fs.rmSync(GIT_HOME, { recursive: true, force: true }));
Object.assign(process.env, {
  HOME: GIT_HOME,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: path.join(GIT_HOME, '.gitconfig'),
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.test',
  GIT_COMMITTER_NAME: 'Test Author',
  GIT_COMMITTER_EMAIL: 'author@example.test',
});
delete process.env.LAZYAF_TOKEN;
delete process.env.LAZYAF_SERVER;
delete process.env.LAZYAF_ADMIN_TOKEN;
delete process.env.LAZYAF_DATA;

/**
 * A temp dir removed when the test ends. After-hooks run in the order they were added, so this
 * one can run while a child started later (a runner and its git) is still writing into the dir:
 * removal retries, and a dir it still cannot remove is left behind rather than failing the hook,
 * which would skip the later hooks that stop those children and leave the test process hanging.
 */
export function tempDir(t: TestContext, prefix = 'lazyaf-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => {
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    } catch (err) {
      process.stderr.write(`could not remove ${dir}: ${(err as Error).message}\n`);
    }
  });
  return dir;
}

export interface TestServer extends BuiltApp {
  url: string;
  token: string;
  registrationToken: string;
  dataDir: string;
  config: ServerConfig;
}

export interface ServerProcess {
  url: string;
  port: number;
  token: string;
  registrationToken: string;
  dataDir: string;
  child: ChildProcess;
  /** What the server's start-up output says about signing in to the web UI (not a terminal here: no link). */
  signInHint: string;
  /** Everything the server wrote (stdout and stderr) so far. */
  output: () => string;
}

/** Where and how a server runs as a child process; `port` reuses a port for a restart. */
export interface ChildServerOptions {
  dataDir: string;
  port?: number;
  /** `--runners`, 0 unless given; null starts the server without it (the pool's stored size). */
  runners?: number | null;
  token?: string;
  /** `--log-level`, warn unless given. */
  logLevel?: string;
}

/**
 * The one way tests start a server, on 127.0.0.1 and port 0 unless told, with `env` as its
 * environment. Without `child` it runs in this process with its own data dir and no pool; with
 * `child` it is `lazyaf server` of the build, a process a test can kill and start again on the
 * same data dir (crashes, restarts, the pool). Either way it is gone when the test ends.
 */
export function startTestServer(t: TestContext, env?: NodeJS.ProcessEnv): Promise<TestServer>;
export function startTestServer(t: TestContext, env: NodeJS.ProcessEnv, child: ChildServerOptions): Promise<ServerProcess>;
export async function startTestServer(t: TestContext, env: NodeJS.ProcessEnv = {}, child?: ChildServerOptions): Promise<TestServer | ServerProcess> {
  if (child) return startServerProcess(t, env, child);
  // Loaded here, not at the top: the server's modules cost a file about a second of CPU under tsx,
  // which the files that never start one in this process (a quarter of them) need not pay.
  const [{ buildApp }, { resolveServerConfig }] = await Promise.all([import('../src/server/app.js'), import('../src/server/config.js')]);
  const dataDir = tempDir(t, 'lazyaf-data-');
  removeRelayDirAfter(t, dataDir);
  const config = resolveServerConfig({ data: dataDir, host: '127.0.0.1', port: 0, runners: 0 }, { ...env });
  const built = await buildApp(config);
  await built.app.listen({ host: '127.0.0.1', port: 0 });
  const address = built.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  t.after(() => built.app.close());
  const { adminToken: token, registrationToken } = built.ctx;
  return { ...built, url: `http://127.0.0.1:${port}`, token, registrationToken, dataDir, config };
}

/** The server's relay folder (pool/host-relay.ts) outlives it, for the containers that mount it: a test's goes with the test. */
export function removeRelayDirAfter(t: TestContext, dataDir: string): void {
  const dir = hostRelayDir(dataDir);
  if (dir) t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
}

async function startServerProcess(t: TestContext, env: NodeJS.ProcessEnv, opts: ChildServerOptions): Promise<ServerProcess> {
  const token = opts.token ?? 'lzadm_test_admin_token';
  const registrationToken = 'lzreg_test_registration_token';
  const args = ['server', '--port', String(opts.port ?? 0), '--data', opts.dataDir, '--log-level', opts.logLevel ?? 'warn'];
  if (opts.runners !== null) args.push('--runners', String(opts.runners ?? 0));
  const child = spawnChild(t, process.execPath, [CLI, ...args], {
    env: { ...process.env, LAZYAF_ADMIN_TOKEN: token, LAZYAF_REGISTRATION_TOKEN: registrationToken, ...env },
  });
  // Its pool runners keep their caches outside the data dir, under the temp dir: gone when the test ends (after the child).
  t.after(() => fs.rmSync(poolWorkRoot(opts.dataDir), { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  removeRelayDirAfter(t, opts.dataDir);
  let output = '';
  const collect = (c: Buffer) => (output += c.toString('utf8'));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  // A start takes well under a second when idle; a machine busy with other suites has taken over 15 s.
  const m = await waitForOutput(child, /lazyaf server listening on (http:\/\/127\.0\.0\.1:(\d+))[^]*?\n {2}sign in: ([^\n]+)\n/, 60_000);
  return { url: m[1]!, port: Number(m[2]), token, registrationToken, dataDir: opts.dataDir, child, signInHint: m[3]!, output: () => output };
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * The one JSON client of the tests: the server's admin token unless `token` is given (`null`: none).
 * A string body is sent as it is, for malformed or oversized JSON.
 */
export async function api<T = any>(
  server: { url: string; token?: string },
  method: string,
  urlPath: string,
  body?: unknown,
  opts: { token?: string | null; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const token = opts.token === undefined ? (server.token ?? null) : opts.token;
  const headers: Record<string, string> = { ...opts.headers };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const payload = typeof body === 'string' || body === undefined ? body : JSON.stringify(body);
  if (payload !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(server.url + urlPath, { method, headers, body: payload });
  const text = await res.text();
  const isJson = (res.headers.get('content-type') ?? '').includes('json');
  return { status: res.status, headers: res.headers, body: isJson && text ? JSON.parse(text) : text };
}

/**
 * The one wait of the tests: polls `check` until it returns something truthy and returns that.
 * A check that throws is tried again; after `timeoutMs` (a generous bound on a loaded machine,
 * not a timing assertion) the test fails with `what` and the last error.
 */
export async function eventually<T>(
  what: string | (() => string),
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A streamed answer read as it arrives; see readStream. */
export interface StreamReader {
  /** Everything read so far. */
  text(): string;
  /** Waits (through eventually, up to `timeoutMs`) until the text so far matches; fails if the stream ends first. */
  until(match: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Waits (up to `timeoutMs`) for the server to end the stream (not break it off); the whole text. */
  ended(timeoutMs?: number): Promise<string>;
}

/**
 * Reads a streamed answer (the event stream, a followed log) in the background as it arrives, so
 * that no wait on it is a bare `read()` that a missing event would leave hanging: every wait is
 * one of `eventually`. The read stops when the test ends.
 */
export function readStream(t: TestContext, res: Response, what: string): StreamReader {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let done = false;
  let failure: unknown;
  t.after(() => reader.cancel().catch(() => {}));
  void (async () => {
    try {
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += decoder.decode(chunk.value, { stream: true });
      }
    } catch (err) {
      // The test's own cancel comes after its last wait; anything else broke the stream off.
      failure = err;
    } finally {
      done = true;
    }
  })();
  const matches = (match: RegExp | string) => (typeof match === 'string' ? text.includes(match) : match.test(text));
  return {
    text: () => text,
    async until(match, timeoutMs) {
      await eventually(
        () => `${what} to show ${String(match)}; so far:\n${text}`,
        () => matches(match) || done,
        timeoutMs,
      );
      if (!matches(match)) throw new Error(`${what} ended${failure ? ` (${String(failure)})` : ''} before it showed ${String(match)}; got:\n${text}`);
      return text;
    },
    async ended(timeoutMs) {
      await eventually(
        () => `${what} to end; so far:\n${text}`,
        () => done,
        timeoutMs,
      );
      if (failure) throw new Error(`${what} broke off instead of ending: ${String(failure)}; got:\n${text}`);
      return text;
    },
  };
}

/** What the tests need of a server: where it is and its admin token (in-process or a child). */
export interface Target {
  url: string;
  token: string;
}

/** Creates a repo through the API and returns it (fails the test on anything but 201). */
export async function createRepo(server: Target, name: string, extra: Record<string, unknown> = {}): Promise<Repo> {
  const res = await api<Repo>(server, 'POST', '/api/repos', { name, ...extra });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** Where the server keeps a repo's bare repository. */
export function barePath(dataDir: string, repoId: string): string {
  return path.join(dataDir, 'repos', `${repoId}.git`);
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (no shell), with optional stdin, and collects its output. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs git; throws with its stderr if it fails. */
export async function git(args: string[], cwd?: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await run('git', args, { cwd, env });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

/** Runs the built `lazyaf` CLI against a server. */
export function cli(
  args: string[],
  opts: { server?: Pick<TestServer, 'url' | 'token'>; cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  if (opts.server) {
    env.LAZYAF_SERVER ??= opts.server.url;
    env.LAZYAF_TOKEN ??= opts.server.token;
  }
  return run(process.execPath, [CLI, ...args], { cwd: opts.cwd, env, input: opts.input });
}

/** A URL with the token as Basic-auth password, the way a script would clone. */
export function authUrl(cloneUrl: string, token: string): string {
  const u = new URL(cloneUrl);
  u.username = 'x';
  u.password = token;
  return u.toString();
}

/** Makes a work-tree repo with `files` committed on `main` (and optional extra commits). */
export async function makeRepo(dir: string, files: Record<string, string>, message = 'initial'): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  await git(['init', '-q', '-b', 'main'], dir);
  await commitFiles(dir, files, message);
  return dir;
}

/** A work-tree repo (as makeRepo) whose `origin` is a bare repo beside it holding its main: the real remote land pushes to. */
export async function makeRepoWithOrigin(dir: string, files: Record<string, string>): Promise<{ src: string; origin: string }> {
  const origin = path.join(dir, 'origin.git');
  await git(['init', '-q', '--bare', origin]);
  const src = await makeRepo(path.join(dir, 'src'), files);
  await git(['remote', 'add', 'origin', origin], src);
  await git(['push', '-q', 'origin', 'main'], src);
  return { src, origin };
}

/**
 * A CLI failure: a non-zero exit and one line of lazyaf's on stderr, matching `re`. It is the only
 * line, or with `afterGit` the last one, after what git itself printed (a push shows its progress).
 */
export function assertCliFailure(r: RunResult, re: RegExp, what: string, opts: { afterGit?: boolean } = {}): void {
  assert.notEqual(r.code, 0, `${what} should fail:\n${r.stdout}`);
  const lines = r.stderr.trim().split('\n');
  const ours = lines.filter((l) => l.startsWith('lazyaf:'));
  assert.equal(opts.afterGit ? ours.length : lines.length, 1, `${what}: one line of lazyaf's expected, got:\n${r.stderr}`);
  assert.equal(lines.at(-1), ours[0], `${what}: lazyaf's line comes last`);
  assert.match(ours[0]!, re, what);
}

export async function commitFiles(dir: string, files: Record<string, string>, message: string): Promise<string> {
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  await git(['add', '-A'], dir);
  await git(['commit', '-q', '-m', message], dir);
  return git(['rev-parse', 'HEAD'], dir);
}

/** Spawns a long-lived child (e.g. a server) that is killed when the test ends. */
export function spawnChild(t: TestContext, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ChildProcess {
  const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

/** Waits for a line matching `re` on a child's stdout or stderr. */
export function waitForOutput(child: ChildProcess, re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in output:\n${seen}`)), timeoutMs);
    const onData = (c: Buffer) => {
      seen += c.toString('utf8');
      const m = re.exec(seen);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        resolve(m);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`process exited while waiting for ${re}; output:\n${seen}`));
    });
  });
}

/** An authorization header with the token as Basic password, the way git sends one. */
export function basicAuth(token: string): string {
  return `Basic ${Buffer.from(`x:${token}`).toString('base64')}`;
}

/** Runs git and returns its result without throwing (for pushes that may be refused). */
export function tryGit(args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return run('git', args, { cwd, env });
}

/** The commit a branch points at in a bare repo, or undefined if it does not exist. */
export async function branchTip(repoPath: string, branch: string): Promise<string | undefined> {
  const r = await run('git', ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], { cwd: repoPath });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** Sets environment variables of this process for the test (the in-process server's and runners' environment), restored after it. */
export function setEnv(t: TestContext, values: Record<string, string>): void {
  const saved = Object.fromEntries(Object.keys(values).map((k) => [k, process.env[k]]));
  Object.assign(process.env, values);
  t.after(() => {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  });
}
