import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { publishChanges } from '../src/runner/publish.js';
import { ObjectSearch, refuseCredentials } from '../src/runner/push-scan.js';
import { Redactor } from '../src/shared/redact.js';
import { prepareWorkspace, WorkspaceError, type Workspace } from '../src/runner/workspace.js';
import { authUrl, git, startTestServer, tempDir, type TestServer } from './helpers.js';
import { job, serverRepo } from './workspace-helpers.js';

// A job never pushes a credential it was given to its branch: real server, real git, the
// runner's own publish step on a workspace the "job" left.

const KEY = 'sk-ant-api03-push-scan-key-0123456789';
const AGENT_ENV = {
  ANTHROPIC_API_KEY: KEY,
  AWS_SESSION_TOKEN: 'ünïcode-session-token-ß',
  HTTPS_PROXY: 'http://proxy-user:proxy%2Fpassword@proxy.internal:3128',
  // Settings, not secrets: a job may write them itself.
  AWS_REGION: 'us-east-1',
  ANTHROPIC_BASE_URL: 'http://gateway.internal:4000',
  SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt',
  CLAUDE_CODE_USE_BEDROCK: '1',
};

interface Setup {
  server: TestServer;
  repo: { id: string; cloneUrl: string };
  workdir: string;
}

async function setup(t: TestContext): Promise<Setup> {
  const server = await startTestServer(t);
  return { server, repo: await serverRepo(t, server, { 'README.md': 'hello\n' }), workdir: tempDir(t) };
}

let jobs = 0;

/** A fresh job with the agent's credentials; `leave` does what its command did in its workspace. */
async function publishAfter(s: Setup, leave: (ws: Workspace) => Promise<void> | void): Promise<{ result: Promise<string | null>; branch: string }> {
  const a = job(s.server, s.repo, ++jobs, { agent_run: { name: 'claude', model: null, env: AGENT_ENV, resume: null } });
  const ws = await prepareWorkspace(a, { workdir: s.workdir });
  await leave(ws);
  return { result: publishChanges(a, ws), branch: a.branch };
}

async function onServer(s: Setup, branch: string): Promise<boolean> {
  return (await git(['ls-remote', authUrl(s.repo.cloneUrl, s.server.token), `refs/heads/${branch}`], s.workdir)) !== '';
}

async function assertRefused(s: Setup, leave: (ws: Workspace) => Promise<void> | void, message: string): Promise<void> {
  const { result, branch } = await publishAfter(s, leave);
  await assert.rejects(result, workspaceError(message));
  assert.equal(await onServer(s, branch), false, 'nothing was pushed');
}

/** A one-line WorkspaceError (what fails the job) saying `message`, or matching it. */
function workspaceError(message: string | RegExp): (err: unknown) => true {
  return (err) => {
    assert.ok(err instanceof WorkspaceError, String(err));
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  };
}

const write = (ws: Workspace, file: string, content: string | Buffer) => {
  fs.mkdirSync(path.dirname(path.join(ws.dir, file)), { recursive: true });
  fs.writeFileSync(path.join(ws.dir, file), content);
};

test("a value of the job's credentials in what it leaves, its own commits or a file name is not pushed; the error names the variable and where", async (t) => {
  const s = await setup(t);
  await assertRefused(
    s,
    (ws) => write(ws, 'src/config.ts', `export const key = '${KEY}';\n`),
    "the job's changes hold the value of ANTHROPIC_API_KEY (in src/config.ts): not pushed",
  );
  // Committed by the job itself, then removed: the first commit still carries it.
  await assertRefused(
    s,
    async (ws) => {
      write(ws, 'notes/secret.txt', `token ${AGENT_ENV.AWS_SESSION_TOKEN}\n`);
      await git(['add', '-A'], ws.dir);
      await git(['commit', '-q', '-m', 'keep it'], ws.dir);
      fs.rmSync(path.join(ws.dir, 'notes/secret.txt'));
      await git(['commit', '-q', '-am', 'remove it'], ws.dir);
    },
    "the job's changes hold the value of AWS_SESSION_TOKEN (in notes/secret.txt): not pushed",
  );
  // Far into a large file, across the pipe's 64 KiB pieces.
  await assertRefused(
    s,
    (ws) => write(ws, 'big.bin', Buffer.concat([Buffer.alloc(65536 - 10, 'x'), Buffer.from(KEY), Buffer.alloc(300_000, 0)])),
    "the job's changes hold the value of ANTHROPIC_API_KEY (in big.bin): not pushed",
  );
  await assertRefused(
    s,
    (ws) => write(ws, 'proxy.env', 'PASSWORD=proxy/password\n'),
    "the job's changes hold the value of HTTPS_PROXY (in proxy.env): not pushed",
  );
  await assertRefused(
    s,
    (ws) => write(ws, `dir/${KEY}.txt`, 'x'),
    "the job's changes hold the value of ANTHROPIC_API_KEY (in a file name in dir/): not pushed",
  );
  const refused = await publishAfter(s, (ws) => git(['commit', '-q', '--allow-empty', '-m', `use ${KEY}`], ws.dir).then(() => {}));
  await assert.rejects(
    refused.result,
    workspaceError(/^the job's changes hold the value of ANTHROPIC_API_KEY \(in the message of commit [0-9a-f]{12}\): not pushed$/),
  );
});

test('settings that are not secrets and short values are pushed', async (t) => {
  const s = await setup(t);
  const settings = Object.entries(AGENT_ENV)
    .filter(([name]) => !/KEY|TOKEN|PROXY/.test(name))
    .map(([name, value]) => `${name}=${value}\n`)
    .join('');
  const { result, branch } = await publishAfter(s, (ws) => write(ws, 'deploy.env', `${settings}proxy-user\n`));
  assert.match((await result) ?? '', /^[0-9a-f]{40}$/);
  assert.equal(await onServer(s, branch), true);
});

test('past its byte cap the check refuses to push what it could not read whole', async (t) => {
  const s = await setup(t);
  const a = job(s.server, s.repo, ++jobs);
  const ws = await prepareWorkspace(a, { workdir: s.workdir });
  write(ws, 'large.txt', Buffer.alloc(2 * 1024 * 1024, 'y'));
  await git(['add', '-A'], ws.dir);
  await git(['commit', '-q', '-m', 'large'], ws.dir);
  const head = await git(['rev-parse', 'HEAD'], ws.dir);
  await git(['fetch', '-q', ws.dir, 'HEAD'], ws.cacheDir);
  const check = (maxBytes: number) => refuseCredentials(ws.cacheDir, ws.baseCommit, head, AGENT_ENV, { maxBytes });
  await check(4 * 1024 * 1024);
  await assert.rejects(check(1024 * 1024), workspaceError("the job's changes are too large to check for credentials (more than 1 MiB): not pushed"));
  // No credential to look for: nothing is read.
  await refuseCredentials(ws.cacheDir, ws.baseCommit, head, { AWS_REGION: 'us-east-1' }, { maxBytes: 1 });
});

test("the search over git's output finds a value however the output is cut, and only inside one object", () => {
  const redactor = new Redactor([KEY]);
  const object = (oid: string, type: string, path: string, content: string) => `${oid} ${type} ${Buffer.byteLength(content)} ${path}\n${content}\n`;
  const half = KEY.slice(0, 15);
  const clean = `${object('a'.repeat(40), 'blob', 'a.txt', `ends with ${half}`)}x missing\n${object('b'.repeat(40), 'blob', 'b.txt', `${KEY.slice(15)} ü`)}`;
  const dirty = `${object('c'.repeat(40), 'tree', '', 'entry')}${object('d'.repeat(40), 'blob', 'dir/ü "q".txt', `ü before ${KEY} after`)}`;
  const text = Buffer.from(clean + dirty);
  for (let cut = 0; cut <= text.length; cut++) {
    const search = new ObjectSearch(redactor);
    const hit = search.feed(text.subarray(0, cut)) ?? search.feed(text.subarray(cut));
    assert.deepEqual(hit, { value: KEY, where: 'in dir/ü \\"q\\".txt' }, `cut at ${cut}`);
  }
});
