import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Fastify from 'fastify';
import type { Principal } from '../src/server/auth.js';
import { openDb } from '../src/server/db/index.js';
import { bareRepoPath, initBareRepo } from '../src/server/git/bare.js';
import { gitHttpRoutes } from '../src/server/git/http.js';
import { RepoStore } from '../src/server/store/repos.js';
import { rawRequest } from './git-helpers.js';
import { basicAuth, createRepo, startTestServer, tempDir } from './helpers.js';

test('a git request is authorized once: the token is looked up once per request, before its body', async (t) => {
  const dir = tempDir(t);
  const reposDir = path.join(dir, 'repos');
  fs.mkdirSync(reposDir);
  const db = openDb(path.join(dir, 'lazyaf.db'));
  t.after(() => db.close());
  const repos = new RepoStore(db);
  const repo = repos.create({ name: 'once', default_branch: 'main', remote_url: null });
  await initBareRepo(bareRepoPath(reposDir, repo.id), 'main');
  const lookups: string[] = [];
  const resolveToken = (token: string): Principal | undefined => {
    lookups.push(token);
    return token === 'good' ? { kind: 'admin' } : undefined;
  };
  const app = Fastify();
  t.after(() => app.close());
  await app.register(gitHttpRoutes, { repos, reposDir, hooksDir: path.join(dir, 'hooks'), resolveToken, maxPushBytes: 0, onPush: () => {} });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });

  for (const p of [`/git/${repo.id}.git/HEAD`, `/git/${repo.id}.git/info/refs?service=git-upload-pack`]) {
    lookups.length = 0;
    const r = await rawRequest(url, { method: 'GET', path: p, headers: { authorization: basicAuth('good') } });
    assert.equal(r.status, 200, `${p}: ${r.body}`);
    assert.deepEqual(lookups, ['good'], `${p}: one lookup`);
  }
  lookups.length = 0;
  const posted = await rawRequest(url, {
    method: 'POST',
    path: `/git/${repo.id}.git/git-upload-pack`,
    headers: { authorization: basicAuth('good'), 'content-type': 'application/x-git-upload-pack-request' },
    body: '0000',
  });
  assert.equal(posted.status, 200, posted.body);
  assert.deepEqual(lookups, ['good']);
});

test("git routes refuse in the API's error shape, and a 401 asks for Basic auth", async (t) => {
  const server = await startTestServer(t);
  const repo = await createRepo(server, 'shape');
  const cases = [
    { path: `/git/${repo.id}.git/HEAD`, auth: undefined, status: 401, error: 'Unauthorized', message: 'authentication required' },
    { path: `/git/${repo.id}.git/HEAD`, auth: basicAuth('lzadm_wrong'), status: 401, error: 'Unauthorized', message: 'invalid token' },
    { path: `/git/${'0'.repeat(32)}.git/HEAD`, auth: basicAuth(server.token), status: 404, error: 'Not Found', message: 'repository not found' },
    {
      path: `/git/${repo.id}.git/info/refs`,
      auth: basicAuth(server.token),
      status: 403,
      error: 'Forbidden',
      message: 'only smart HTTP is served: ?service=git-upload-pack or git-receive-pack',
    },
  ];
  for (const c of cases) {
    const r = await rawRequest(server.url, { method: 'GET', path: c.path, headers: c.auth ? { authorization: c.auth } : {} });
    assert.equal(r.status, c.status, `${c.path}: ${r.body}`);
    assert.deepEqual(JSON.parse(r.body), { statusCode: c.status, error: c.error, message: c.message });
    if (c.status === 401) assert.match(String(r.headers['www-authenticate']), /^Basic realm="lazyaf"/);
  }
});
