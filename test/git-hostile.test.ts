import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { assertFsckClean, isAlive, processesIn, pushUrl, randomText, rawRequest } from './git-helpers.js';
import {
  api,
  authUrl,
  barePath,
  basicAuth,
  branchTip,
  commitFiles,
  createRepo,
  eventually,
  git,
  makeRepo,
  startTestServer,
  tempDir,
  tryGit,
  waitForOutput,
} from './helpers.js';

const UPLOAD = 'application/x-git-upload-pack-request';
const RECEIVE = 'application/x-git-receive-pack-request';

test('hostile git requests get a 4xx, never a 5xx or a success, and the server stays healthy', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await createRepo(server, 'target');
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'a\n' });
  await git(['push', '-q', pushUrl(server, repo), 'main'], src);
  const main = await git(['rev-parse', 'HEAD'], src);
  const good = basicAuth(server.token);
  const p = `/git/${repo.id}.git`;
  const unknown = `/git/${crypto.randomUUID()}.git`;

  type Case = {
    name: string;
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: Buffer | string;
    status: number | 'any4xx';
    message?: RegExp;
  };
  const cases: Case[] = [
    { name: 'no token', path: `${p}/info/refs?service=git-upload-pack`, status: 401 },
    { name: 'no token, receive-pack', path: `${p}/info/refs?service=git-receive-pack`, status: 401 },
    { name: 'no token, HEAD', path: `${p}/HEAD`, status: 401 },
    { name: 'no token, push', method: 'POST', path: `${p}/git-receive-pack`, headers: { 'content-type': RECEIVE }, body: '0000', status: 401 },
    {
      name: 'wrong token',
      path: `${p}/info/refs?service=git-upload-pack`,
      headers: { authorization: basicAuth('lzadm_wrong') },
      status: 401,
      message: /invalid token/,
    },
    {
      name: 'wrong token, fetch',
      method: 'POST',
      path: `${p}/git-upload-pack`,
      headers: { authorization: basicAuth('nope'), 'content-type': UPLOAD },
      body: '0000',
      status: 401,
    },
    { name: 'Basic without a password', path: `${p}/HEAD`, headers: { authorization: `Basic ${Buffer.from(server.token).toString('base64')}` }, status: 401 },
    { name: 'unknown repo', path: `${unknown}/info/refs?service=git-upload-pack`, headers: { authorization: good }, status: 404 },
    {
      name: 'unknown repo, fetch',
      method: 'POST',
      path: `${unknown}/git-upload-pack`,
      headers: { authorization: good, 'content-type': UPLOAD },
      body: '0000',
      status: 404,
    },
    { name: 'unknown repo, HEAD', path: `${unknown}/HEAD`, headers: { authorization: good }, status: 404 },
    { name: 'bad service', path: `${p}/info/refs?service=git-shell`, headers: { authorization: good }, status: 403 },
    { name: 'no service (dumb protocol)', path: `${p}/info/refs`, headers: { authorization: good }, status: 403 },
    { name: 'service twice', path: `${p}/info/refs?service=git-upload-pack&service=git-receive-pack`, headers: { authorization: good }, status: 403 },
    {
      name: 'Git-Protocol with ;',
      path: `${p}/info/refs?service=git-upload-pack`,
      headers: { authorization: good, 'git-protocol': 'version=2;touch /tmp/x' },
      status: 400,
      message: /Git-Protocol/,
    },
    {
      name: 'Git-Protocol with a tab',
      path: `${p}/info/refs?service=git-upload-pack`,
      headers: { authorization: good, 'git-protocol': 'version=2\tx' },
      status: 400,
    },
    {
      name: 'Git-Protocol with a space',
      path: `${p}/info/refs?service=git-upload-pack`,
      headers: { authorization: good, 'git-protocol': 'version=2 x' },
      status: 400,
    },
    {
      name: 'Git-Protocol non-ASCII',
      path: `${p}/info/refs?service=git-upload-pack`,
      headers: { authorization: good, 'git-protocol': 'version=2\u00a0' },
      status: 400,
    },
    {
      name: 'Git-Protocol too long',
      path: `${p}/info/refs?service=git-upload-pack`,
      headers: { authorization: good, 'git-protocol': `version=${'2'.repeat(300)}` },
      status: 400,
    },
    {
      name: 'Git-Protocol on a POST',
      method: 'POST',
      path: `${p}/git-upload-pack`,
      headers: { authorization: good, 'content-type': UPLOAD, 'git-protocol': 'version=2;x' },
      body: '0000',
      status: 400,
    },
    {
      name: 'corrupt gzip, fetch',
      method: 'POST',
      path: `${p}/git-upload-pack`,
      headers: { authorization: good, 'content-type': UPLOAD, 'content-encoding': 'gzip' },
      body: 'this is not gzip at all',
      status: 400,
      message: /gzip/,
    },
    {
      name: 'truncated gzip, fetch',
      method: 'POST',
      path: `${p}/git-upload-pack`,
      headers: { authorization: good, 'content-type': UPLOAD, 'content-encoding': 'gzip' },
      body: zlib.gzipSync(Buffer.from(`0032want ${main}\n00000009done\n`)).subarray(0, 12),
      status: 400,
    },
    {
      name: 'corrupt gzip, push',
      method: 'POST',
      path: `${p}/git-receive-pack`,
      headers: { authorization: good, 'content-type': RECEIVE, 'content-encoding': 'gzip' },
      body: Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]),
      status: 400,
    },
    {
      name: 'garbage pkt-lines, fetch',
      method: 'POST',
      path: `${p}/git-upload-pack`,
      headers: { authorization: good, 'content-type': UPLOAD },
      body: 'zzzzhello',
      status: 400,
      message: /protocol error/,
    },
    {
      name: 'garbage pkt-lines, push',
      method: 'POST',
      path: `${p}/git-receive-pack`,
      headers: { authorization: good, 'content-type': RECEIVE },
      body: 'zzzzhello',
      status: 400,
      message: /protocol error/,
    },
    {
      name: 'gzipped garbage pkt-lines',
      method: 'POST',
      path: `${p}/git-upload-pack`,
      headers: { authorization: good, 'content-type': UPLOAD, 'content-encoding': 'gzip' },
      body: zlib.gzipSync('zzzzhello'),
      status: 400,
    },
    {
      name: 'a JSON body',
      method: 'POST',
      path: `${p}/git-upload-pack`,
      headers: { authorization: good, 'content-type': 'application/json' },
      body: '{"a":1}',
      status: 'any4xx',
    },
    {
      name: 'another content type',
      method: 'POST',
      path: `${p}/git-receive-pack`,
      headers: { authorization: good, 'content-type': 'application/octet-stream' },
      body: 'zzzz',
      status: 415,
    },
  ];
  const hostileIds = [
    '..',
    '..%2F..%2Fetc',
    '%2e%2e',
    '%2e%2e%2f%2e%2e',
    `${repo.id}.git%2F..%2F..%2F${repo.id}`,
    `..%2F${repo.id}`,
    `${repo.id}%00`,
    repo.id,
    `${repo.id.toUpperCase()}.git`,
    'x'.repeat(5000),
  ];
  for (const id of hostileIds) {
    for (const [suffix, method, body] of [
      ['/info/refs?service=git-upload-pack', 'GET', undefined],
      ['/git-upload-pack', 'POST', '0000'],
      ['/HEAD', 'GET', undefined],
    ] as const) {
      cases.push({
        name: `id ${id.slice(0, 40)} ${suffix}`,
        method,
        path: `/git/${id}${suffix}`,
        headers: { authorization: good, 'content-type': UPLOAD },
        body,
        status: 'any4xx',
      });
      cases.push({
        name: `id ${id.slice(0, 40)} ${suffix}, no token`,
        method,
        path: `/git/${id}${suffix}`,
        headers: { 'content-type': UPLOAD },
        body,
        status: 'any4xx',
      });
    }
  }

  for (const c of cases) {
    const r = await rawRequest(server.url, c);
    if (c.status === 'any4xx') assert.ok(r.status >= 400 && r.status < 500, `${c.name}: expected a 4xx, got ${r.status} ${r.body.slice(0, 200)}`);
    else assert.equal(r.status, c.status, `${c.name}: ${r.body.slice(0, 200)}`);
    if (r.status === 401) assert.match(String(r.headers['www-authenticate']), /^Basic /, `${c.name}: a 401 must ask for Basic auth`);
    if (c.message) assert.match(JSON.parse(r.body).message, c.message, c.name);
    assert.doesNotMatch(r.body, /root:x:0:0/);
  }

  // git answers a want of an object it does not have in the protocol itself, as git http-backend does.
  const notOurs = await rawRequest(server.url, {
    method: 'POST',
    path: `${p}/git-upload-pack`,
    headers: { authorization: good, 'content-type': UPLOAD },
    body: `0032want ${'1'.repeat(40)}\n00000009done\n`,
  });
  assert.equal(notOurs.status, 200);
  assert.match(notOurs.body, /ERR upload-pack: not our ref 1{40}/);

  // A push whose pack is garbage creates no ref.
  const command = `${'0'.repeat(40)} ${main} refs/heads/evil\0report-status\n`;
  const evil = await rawRequest(server.url, {
    method: 'POST',
    path: `${p}/git-receive-pack`,
    headers: { authorization: good, 'content-type': RECEIVE },
    body: Buffer.concat([Buffer.from((command.length + 4).toString(16).padStart(4, '0') + command + '0000'), Buffer.from('PACK\0\0\0\x02\0\0\0\x05garbage')]),
  });
  assert.ok(evil.status < 500, `${evil.status} ${evil.body}`);
  assert.equal(await branchTip(barePath(server.dataDir, repo.id), 'evil'), undefined);

  // Still healthy: health answers, the repo is intact and clones.
  const health = await api(server, 'GET', '/api/health', undefined, { token: null });
  assert.equal(health.status, 200);
  assert.equal(health.body.status, 'ok');
  await assertFsckClean(barePath(server.dataDir, repo.id));
  const clone = path.join(dir, 'clone');
  await git(['clone', '-q', pushUrl(server, repo), clone], dir);
  assert.equal(await git(['rev-parse', 'HEAD'], clone), main);
  assert.deepEqual(
    (await api(server, 'GET', `/api/repos/${repo.id}/branches`)).body.branches.map((b: { name: string }) => b.name),
    ['main'],
  );
});

test('git without credentials is refused cleanly, and a wrong token is not accepted', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await createRepo(server, 'private');
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'a\n' });
  const anonymous = await tryGit(['push', repo.clone_url, 'main'], src);
  assert.notEqual(anonymous.code, 0);
  assert.match(anonymous.stderr, /could not read Username|Authentication failed|401/);
  const wrong = await tryGit(['push', authUrl(repo.clone_url, 'lzadm_not_the_token'), 'main'], src);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /Authentication failed/);
  assert.equal((await api(server, 'GET', `/api/repos/${repo.id}/branches`)).body.total, 0);
});

test('a repo whose bare directory has gone missing is a 404 on every git route, not a crash', async (t) => {
  const server = await startTestServer(t);
  const repo = await createRepo(server, 'vanished');
  fs.rmSync(barePath(server.dataDir, repo.id), { recursive: true });
  const p = `/git/${repo.id}.git`;
  for (const [method, suffix, type] of [
    ['GET', '/info/refs?service=git-upload-pack', undefined],
    ['GET', '/info/refs?service=git-receive-pack', undefined],
    ['POST', '/git-upload-pack', UPLOAD],
    ['POST', '/git-receive-pack', RECEIVE],
    ['GET', '/HEAD', undefined],
  ] as const) {
    const r = await rawRequest(server.url, {
      method,
      path: p + suffix,
      headers: { authorization: basicAuth(server.token), ...(type ? { 'content-type': type } : {}) },
      body: type ? '0000' : undefined,
    });
    assert.equal(r.status, 404, `${method} ${suffix}: ${r.body}`);
    assert.match(JSON.parse(r.body).message, /repository not found/);
  }
  assert.equal((await api(server, 'GET', '/api/health', undefined, { token: null })).status, 200);
  // Deleting the record still works.
  assert.equal((await api(server, 'DELETE', `/api/repos/${repo.id}`)).status, 204);
});

test('a git that cannot be started is a 503, not a crash', async (t) => {
  const server = await startTestServer(t);
  const repo = await createRepo(server, 'nogit');
  const emptyBin = tempDir(t);
  const savedPath = process.env.PATH;
  // The in-process server spawns git through this process's PATH.
  process.env.PATH = emptyBin;
  try {
    for (const [method, suffix, type] of [
      ['GET', '/info/refs?service=git-upload-pack', undefined],
      ['POST', '/git-upload-pack', UPLOAD],
    ] as const) {
      const r = await rawRequest(server.url, {
        method,
        path: `/git/${repo.id}.git${suffix}`,
        headers: { authorization: basicAuth(server.token), ...(type ? { 'content-type': type } : {}) },
        body: type ? '0000' : undefined,
      });
      assert.equal(r.status, 503, `${method} ${suffix}: ${r.body}`);
      assert.equal(JSON.parse(r.body).message, 'could not start git');
    }
  } finally {
    process.env.PATH = savedPath;
  }
  assert.equal((await api(server, 'GET', '/api/health', undefined, { token: null })).status, 200);
});

/**
 * Pushes `refspec` and kills the client (git and its remote helper) while receive-pack waits in
 * a reference-transaction hook at `state` ("prepared": it holds the ref locks; "committed": the
 * refs are updated, the report is not sent yet). Returns once receive-pack is gone.
 */
async function killClientDuringPush(
  server: { dataDir: string },
  dir: string,
  src: string,
  url: string,
  refspec: string,
  state: 'prepared' | 'committed',
  whileBlocked?: () => void,
): Promise<void> {
  const marker = path.join(dir, `receive-pack-${state}.pid`);
  const release = path.join(dir, `release-${state}`);
  const hook = path.join(server.dataDir, 'hooks', 'reference-transaction');
  // The hook gives up by itself after ~30 s, or when the test's temp dir is gone.
  fs.writeFileSync(
    hook,
    `#!/bin/sh\n[ "$1" = ${state} ] || exit 0\necho $PPID > '${marker}.tmp' && mv '${marker}.tmp' '${marker}'\n` +
      `i=0; while [ ! -e '${release}' ] && [ -d '${dir}' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\n`,
    { mode: 0o755 },
  );
  const pusher = spawn('git', ['push', url, refspec], { cwd: src, detached: true, stdio: 'ignore' });
  await eventually(`the push to reach the "${state}" ref update`, () => fs.existsSync(marker));
  const receivePack = Number(fs.readFileSync(marker, 'utf8'));
  whileBlocked?.();
  process.kill(-pusher.pid!, 'SIGKILL');
  // The server notices that the client is gone and stops receive-pack.
  await eventually('receive-pack to be stopped', () => !isAlive(receivePack));
  fs.writeFileSync(release, '');
  fs.rmSync(hook);
}

test('a client that vanishes while its push holds the ref lock leaves no stale lock behind', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await createRepo(server, 'locky');
  const url = pushUrl(server, repo);
  const bare = barePath(server.dataDir, repo.id);
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'a\n' });
  await git(['push', '-q', url, 'main'], src);
  const second = await commitFiles(src, { 'a.txt': 'b\n' }, 'second');

  await killClientDuringPush(server, dir, src, url, 'main', 'prepared', () => {
    assert.ok(fs.existsSync(path.join(bare, 'refs/heads/main.lock')), 'git holds the lock while the hook runs');
  });
  assert.equal(fs.existsSync(path.join(bare, 'refs/heads/main.lock')), false, 'a stale refs/heads/main.lock would block every later push');
  const retry = await tryGit(['push', url, 'main'], src);
  assert.equal(retry.code, 0, retry.stderr);
  assert.equal(await branchTip(bare, 'main'), second);
  await assertFsckClean(bare);
});

test('a push whose client vanishes after the refs moved is still taken in (default branch adopted)', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await createRepo(server, 'gone-client');
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'a\n' });
  await git(['branch', '-m', 'main', 'trunk'], src);
  await killClientDuringPush(server, dir, src, pushUrl(server, repo), 'trunk', 'committed');
  assert.equal(await branchTip(barePath(server.dataDir, repo.id), 'trunk'), await git(['rev-parse', 'HEAD'], src));
  await eventually(
    'the server to adopt trunk as the default branch',
    async () => (await api(server, 'GET', `/api/repos/${repo.id}`)).body.default_branch === 'trunk',
  );
});

test('a server SIGKILLed during a push leaves a consistent repo; after a restart the push succeeds', async (t) => {
  const dataDir = tempDir(t, 'lazyaf-data-');
  const token = `lzadm_${crypto.randomBytes(16).toString('hex')}`;
  const first = await startTestServer(t, {}, { dataDir, token });
  const repo = await createRepo(first, 'crashy');
  const bare = barePath(dataDir, repo.id);
  const dir = tempDir(t);
  const files: Record<string, string> = {};
  for (let i = 0; i < 6; i++) files[`blob-${i}.bin`] = randomText(1024 * 1024);
  const src = await makeRepo(path.join(dir, 'src'), files);
  const head = await git(['rev-parse', 'HEAD'], src);

  const push = spawn('git', ['push', '--progress', authUrl(`${first.url}/git/${repo.id}.git`, token), 'main'], { cwd: src, stdio: ['ignore', 'pipe', 'pipe'] });
  const pushExit = once(push, 'close');
  await waitForOutput(push, /Writing objects/);
  first.child.kill('SIGKILL');
  await once(first.child, 'exit');
  await pushExit;

  // Whatever git children the server left behind finish (they see their input end) before we look.
  await eventually('orphaned git processes to exit', () => processesIn(bare).length === 0);
  await assertFsckClean(bare);
  const tip = await branchTip(bare, 'main');
  if (tip !== undefined) {
    // If the ref was written, it points at the complete commit, with every object present.
    assert.equal(tip, head);
    await git(['rev-list', '--objects', '--missing=print', tip], bare).then((out) => assert.doesNotMatch(out, /^\?/m));
  }

  const second = await startTestServer(t, {}, { dataDir, token });
  const url = authUrl(`${second.url}/git/${repo.id}.git`, token);
  const retry = await tryGit(['push', url, 'main'], src);
  assert.equal(retry.code, 0, retry.stderr);
  assert.equal(await branchTip(bare, 'main'), head);
  await assertFsckClean(bare);
  const clone = path.join(dir, 'clone');
  await git(['clone', '-q', url, clone], dir);
  assert.equal(await git(['rev-parse', 'HEAD^{tree}'], clone), await git(['rev-parse', 'HEAD^{tree}'], src));
  const repos = await api(second, 'GET', '/api/repos');
  assert.deepEqual(
    repos.body.repos.map((r: { name: string }) => r.name),
    ['crashy'],
  );
});
