import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pushUrl, rawRequest } from './git-helpers.js';
import { api, barePath, branchTip, commitFiles, createRepo, git, makeRepo, startTestServer, tempDir, tryGit } from './helpers.js';
import { poll, registerRunner, seedRepo, submit } from './queue-helpers.js';
import { RunnerRoutes } from '../src/shared/protocol.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test('create, list, get by id and by name, patch, delete (which removes the bare repo)', async (t) => {
  const server = await startTestServer(t);
  const created = await createRepo(server, 'alpha');
  assert.match(created.id, UUID);
  assert.equal(created.name, 'alpha');
  assert.equal(created.default_branch, 'main');
  assert.equal(created.remote_url, null);
  assert.equal(created.clone_url, `${server.url}/git/${created.id}.git`);
  const bare = barePath(server.dataDir, created.id);
  assert.equal(fs.readFileSync(path.join(bare, 'HEAD'), 'utf8'), 'ref: refs/heads/main\n');
  assert.equal(await git(['config', 'receive.denyNonFastForwards'], bare), 'true');

  const ingested = await api(server, 'POST', '/api/repos/ingest', { name: 'beta', default_branch: 'trunk', remote_url: '/srv/beta.git' });
  assert.equal(ingested.status, 201);
  assert.equal(ingested.body.default_branch, 'trunk');
  assert.equal(ingested.body.remote_url, '/srv/beta.git');

  const list = await api(server, 'GET', '/api/repos');
  assert.equal(list.status, 200);
  assert.equal(list.body.total, 2);
  assert.deepEqual(list.body.repos.map((r: { name: string }) => r.name).sort(), ['alpha', 'beta']);

  const byId = await api(server, 'GET', `/api/repos/${created.id}`);
  const byName = await api(server, 'GET', '/api/repos/alpha');
  assert.equal(byId.status, 200);
  assert.deepEqual(byId.body, created);
  assert.deepEqual(byName.body, created);

  const patched = await api(server, 'PATCH', '/api/repos/alpha', { name: 'alpha2', remote_url: 'https://example.test/alpha.git', default_branch: 'develop' });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.id, created.id);
  assert.equal(patched.body.name, 'alpha2');
  assert.equal(patched.body.remote_url, 'https://example.test/alpha.git');
  assert.equal(patched.body.default_branch, 'develop');
  assert.equal(fs.readFileSync(path.join(bare, 'HEAD'), 'utf8'), 'ref: refs/heads/develop\n');
  assert.equal((await api(server, 'GET', '/api/repos/alpha')).status, 404);
  assert.equal((await api(server, 'GET', '/api/repos/alpha2')).body.default_branch, 'develop');
  const cleared = await api(server, 'PATCH', `/api/repos/${created.id}`, { remote_url: null });
  assert.equal(cleared.body.remote_url, null);
  assert.equal(cleared.body.name, 'alpha2');

  const del = await api(server, 'DELETE', `/api/repos/${created.id}`);
  assert.equal(del.status, 204);
  assert.equal(fs.existsSync(bare), false, 'the bare repo directory must be removed');
  assert.equal((await api(server, 'GET', `/api/repos/${created.id}`)).status, 404);
  assert.equal((await api(server, 'DELETE', `/api/repos/${created.id}`)).status, 404);
  assert.deepEqual(
    (await api(server, 'GET', '/api/repos')).body.repos.map((r: { name: string }) => r.name),
    ['beta'],
  );
  // A deleted name is free again.
  await createRepo(server, 'alpha2');
});

test('name clashes are 409; bad names, remote URLs and branch names are 400', async (t) => {
  const server = await startTestServer(t);
  const a = await createRepo(server, 'taken');
  const b = await createRepo(server, 'other');

  const clash = await api(server, 'POST', '/api/repos', { name: 'taken' });
  assert.equal(clash.status, 409);
  assert.match(clash.body.message, /"taken" already exists/);
  const renameClash = await api(server, 'PATCH', `/api/repos/${b.id}`, { name: 'taken' });
  assert.equal(renameClash.status, 409);
  assert.equal((await api(server, 'GET', `/api/repos/${b.id}`)).body.name, 'other');
  // Renaming a repo to its own name is not a clash.
  assert.equal((await api(server, 'PATCH', `/api/repos/${a.id}`, { name: 'taken' })).status, 200);

  const badNames = ['', '-dash', '.hidden', 'a b', '../up', 'a/b', 'x'.repeat(101), 'semi;colon', 'new\nline', b.id];
  for (const name of badNames) {
    const r = await api(server, 'POST', '/api/repos', { name });
    assert.equal(r.status, 400, `name ${JSON.stringify(name)} should be refused, got ${r.status}`);
    assert.equal(typeof r.body.message, 'string');
  }

  const badRemotes = [
    'ext::sh -c touch% /tmp/pwned',
    '-oProxyCommand=x',
    '--upload-pack=x',
    'ssh://-oProxyCommand=touch%20/tmp/pwned/repo.git',
    'ssh://git@-oProxyCommand=x/repo.git',
    'fd::17',
    'relative/path',
    'https://example.test/a\nb',
    'x'.repeat(3000),
  ];
  for (const remote_url of badRemotes) {
    const create = await api(server, 'POST', '/api/repos', { name: 'r', remote_url });
    assert.equal(create.status, 400, `remote_url ${JSON.stringify(remote_url)} should be refused on create`);
    const patch = await api(server, 'PATCH', `/api/repos/${a.id}`, { remote_url });
    assert.equal(patch.status, 400, `remote_url ${JSON.stringify(remote_url)} should be refused on patch`);
  }
  assert.equal((await api(server, 'GET', `/api/repos/${a.id}`)).body.remote_url, null);
  for (const remote_url of ['https://github.com/o/r.git', 'ssh://git@example.test/r.git', 'git@github.com:o/r.git', '/abs/path.git', 'file:///abs/path.git']) {
    assert.equal((await api(server, 'PATCH', `/api/repos/${a.id}`, { remote_url })).status, 200, remote_url);
  }

  for (const default_branch of ['-x', 'a..b', 'a b', 'x.lock', '@', 'a~1', 'a:b', 'refs/heads/', '']) {
    assert.equal((await api(server, 'POST', '/api/repos', { name: 'br', default_branch })).status, 400, `create with ${JSON.stringify(default_branch)}`);
    assert.equal((await api(server, 'PATCH', `/api/repos/${a.id}`, { default_branch })).status, 400, `patch with ${JSON.stringify(default_branch)}`);
  }
  assert.equal((await api(server, 'GET', `/api/repos/${a.id}`)).body.default_branch, 'main');
  assert.equal((await api(server, 'PATCH', `/api/repos/${a.id}`, {})).status, 400, 'an empty patch');
  assert.equal((await api(server, 'PATCH', `/api/repos/${a.id}`, { id: 'x' })).status, 400, 'unknown fields');
  assert.equal((await api(server, 'GET', '/api/repos')).body.total, 2, 'no refused request created a repo');
});

test('clone-url, branches, and 404 for an unknown repo on every route', async (t) => {
  const server = await startTestServer(t);
  const repo = await createRepo(server, 'br');
  const cu = await api(server, 'GET', '/api/repos/br/clone-url');
  assert.deepEqual(cu.body, { clone_url: repo.clone_url, repo_id: repo.id, name: 'br' });

  const empty = await api(server, 'GET', `/api/repos/${repo.id}/branches`);
  assert.deepEqual(empty.body, { branches: [], default_branch: 'main', total: 0 });

  const dir = tempDir(t);
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'a\n' });
  const main = await git(['rev-parse', 'HEAD'], src);
  await git(['checkout', '-q', '-b', 'lazyaf/0123abcd'], src);
  const job = await commitFiles(src, { 'a.txt': 'b\n' }, 'job');
  await git(['push', '-q', pushUrl(server, repo), 'main', 'lazyaf/0123abcd', 'lazyaf/0123abcd:feature/x'], src);
  const branches = await api(server, 'GET', `/api/repos/${repo.id}/branches`);
  assert.deepEqual(branches.body, {
    branches: [
      { name: 'feature/x', commit: job, is_default: false, is_lazyaf: false },
      { name: 'lazyaf/0123abcd', commit: job, is_default: false, is_lazyaf: true },
      { name: 'main', commit: main, is_default: true, is_lazyaf: false },
    ],
    default_branch: 'main',
    total: 3,
  });

  const unknown = '00000000-0000-4000-8000-000000000000';
  for (const [method, p, body] of [
    ['GET', `/api/repos/${unknown}`],
    ['GET', '/api/repos/no-such-name'],
    ['PATCH', `/api/repos/${unknown}`, { name: 'x' }],
    ['DELETE', `/api/repos/${unknown}`],
    ['GET', `/api/repos/${unknown}/clone-url`],
    ['GET', `/api/repos/${unknown}/branches`],
    ['POST', `/api/repos/${unknown}/land`, { branch: 'main' }],
  ] as [string, string, unknown?][]) {
    const r = await api(server, method, p, body);
    assert.equal(r.status, 404, `${method} ${p}`);
    assert.match(r.body.message, /repo not found/);
  }
});

test('the API wants the admin token: 401 with a JSON body, however the path is spelled', async (t) => {
  const server = await startTestServer(t);
  await createRepo(server, 'secret-name');
  const missing = await api(server, 'GET', '/api/repos', undefined, { token: null });
  assert.equal(missing.status, 401);
  assert.equal(missing.body.statusCode, 401);
  assert.match(missing.body.message, /missing bearer token/);
  const wrong = await api(server, 'GET', '/api/repos', undefined, { token: 'lzadm_wrong' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.message, 'invalid token');
  const basic = await api(server, 'GET', '/api/repos', undefined, {
    token: null,
    headers: { authorization: `Basic ${Buffer.from(`x:${server.token}`).toString('base64')}` },
  });
  assert.equal(basic.status, 401, 'the API takes a bearer token only');
  const write = await api(server, 'POST', '/api/repos', { name: 'sneaky' }, { token: null });
  assert.equal(write.status, 401);

  // Spellings of the same route that the router accepts must not skip the token check.
  const port = new URL(server.url).port;
  for (const p of [`http://127.0.0.1:${port}/api/repos`, '/%61pi/repos', '/api/%72epos', `http://127.0.0.1:${port}/%61pi/repos/secret-name`]) {
    const r = await rawRequest(server.url, { path: p });
    assert.equal(r.status, 401, `${p} answered ${r.status}: ${r.body}`);
    assert.doesNotMatch(r.body, /secret-name/);
  }
  assert.equal((await api(server, 'GET', '/api/repos')).body.total, 1, 'nothing was created without a token');
});

test('malformed JSON is 400, a huge body is 413; health and the OpenAPI docs need no token', async (t) => {
  const server = await startTestServer(t);
  const bad = await api(server, 'POST', '/api/repos', '{"name": "x",');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.statusCode, 400);
  const huge = await api(server, 'POST', '/api/repos', JSON.stringify({ name: 'x', pad: 'y'.repeat(2 * 1024 * 1024) }));
  assert.equal(huge.status, 413);
  assert.equal(huge.body.statusCode, 413);
  assert.equal((await api(server, 'GET', '/api/repos')).body.total, 0);

  const health = await api(server, 'GET', '/api/health', undefined, { token: null });
  assert.equal(health.status, 200);
  assert.equal(health.body.status, 'ok');
  assert.equal(typeof health.body.version, 'string');

  const docs = await api(server, 'GET', '/docs', undefined, { token: null });
  assert.equal(docs.status, 200);
  assert.match(docs.headers.get('content-type') ?? '', /html/);
  const spec = await api(server, 'GET', '/docs/json', undefined, { token: null });
  assert.equal(spec.status, 200);
  assert.match(spec.body.openapi, /^3\./);
  for (const p of ['/api/repos', '/api/repos/{id}', '/api/repos/{id}/branches', '/api/repos/{id}/land', '/api/repos/{id}/clone-url', '/api/repos/ingest']) {
    assert.ok(spec.body.paths[p], `OpenAPI document lacks ${p}`);
  }
  assert.ok(spec.body.paths['/api/repos'].post.requestBody, 'POST /api/repos documents its body');
});

test('land pushes a branch to remote_url; 409 without one or when the remote refuses, 404 for an unknown branch, 424 when the remote is unreachable', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const origin = path.join(dir, 'origin.git');
  await git(['init', '-q', '--bare', origin]);
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'one\n' });
  const base = await git(['rev-parse', 'HEAD'], src);
  await git(['push', '-q', origin, 'main'], src);

  const noRemote = await createRepo(server, 'noremote');
  await git(['push', '-q', pushUrl(server, noRemote), 'main'], src);
  const r409 = await api(server, 'POST', `/api/repos/${noRemote.id}/land`, { branch: 'main' });
  assert.equal(r409.status, 409);
  assert.match(r409.body.message, /no remote_url/);

  const repo = await createRepo(server, 'landing', { remote_url: origin });
  await git(['checkout', '-q', '-b', 'lazyaf/feedbeef'], src);
  const work = await commitFiles(src, { 'a.txt': 'two\n' }, 'agent work');
  await git(['push', '-q', pushUrl(server, repo), 'main', 'lazyaf/feedbeef'], src);

  const landed = await api(server, 'POST', `/api/repos/${repo.id}/land`, { branch: 'lazyaf/feedbeef' });
  assert.equal(landed.status, 200, JSON.stringify(landed.body));
  assert.equal(landed.body.commit, work);
  assert.equal(landed.body.branch, 'lazyaf/feedbeef');
  assert.equal(landed.body.remote_branch, 'lazyaf/feedbeef');
  assert.equal(await branchTip(origin, 'lazyaf/feedbeef'), work);
  // Onto another branch name, fast-forward.
  const ff = await api(server, 'POST', `/api/repos/${repo.id}/land`, { branch: 'lazyaf/feedbeef', remote_branch: 'main' });
  assert.equal(ff.status, 200, JSON.stringify(ff.body));
  assert.equal(await branchTip(origin, 'main'), work);

  const missing = await api(server, 'POST', `/api/repos/${repo.id}/land`, { branch: 'nope' });
  assert.equal(missing.status, 404);
  assert.match(missing.body.message, /branch not found: nope/);
  assert.equal((await api(server, 'POST', `/api/repos/${repo.id}/land`, { branch: '--force' })).status, 400);
  assert.equal((await api(server, 'POST', `/api/repos/${repo.id}/land`, {})).status, 400);

  // The internal main (base) is behind the remote's main now: a non-fast-forward the remote refuses.
  const refused = await api(server, 'POST', `/api/repos/${repo.id}/land`, { branch: 'main' });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.equal(
    refused.body.message,
    'main on the remote has moved: it holds commits this branch does not (was the job redone after it was landed?); to replace it, land it with force',
  );
  assert.equal(await branchTip(origin, 'main'), work, 'the remote is unchanged');
  assert.equal(await branchTip(barePath(server.dataDir, repo.id), 'main'), base);

  // A remote that does not exist: a 424 with git's reason, told apart from a refusal.
  await api(server, 'PATCH', `/api/repos/${repo.id}`, { remote_url: path.join(dir, 'missing.git') });
  const gone = await api(server, 'POST', `/api/repos/${repo.id}/land`, { branch: 'main' });
  assert.equal(gone.status, 424);
  assert.match(gone.body.message, /^cannot push to \S*missing\.git: '\S*missing\.git' does not appear to be a git repository$/);
});

test("a land the remote's hook refuses is a 409 with the hook's words, and no error in the server's log", async (t) => {
  const server = await startTestServer(t, {}, { dataDir: tempDir(t, 'lazyaf-data-'), logLevel: 'info' });
  const dir = tempDir(t);
  const origin = path.join(dir, 'origin.git');
  await git(['init', '-q', '--bare', origin]);
  const hook = path.join(origin, 'hooks', 'pre-receive');
  fs.writeFileSync(
    hook,
    '#!/bin/sh\necho "GH006: Protected branch update failed for refs/heads/main." >&2\nprintf \'\\033[31mchanges must be made through a pull request\\n\' >&2\nexit 1\n',
    { mode: 0o755 },
  );
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'one\n' });
  const repo = await createRepo(server, 'guarded', { remote_url: origin });
  await git(['push', '-q', pushUrl(server, repo), 'main'], src);

  const refused = await api(server, 'POST', `/api/repos/${repo.id}/land`, { branch: 'main' });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.equal(
    refused.body.message,
    'the remote refused main (pre-receive hook declined): GH006: Protected branch update failed for refs/heads/main. [31mchanges must be made through a pull request',
  );
  assert.equal(await branchTip(origin, 'main'), undefined, 'the remote is unchanged');
  const logged = server
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string });
  assert.ok(logged.length > 0, server.output());
  assert.deepEqual(
    logged.filter((l) => l.level >= 40),
    [],
    'nothing above info',
  );
});

test("a remote_url's password is never echoed back: not by the API, not by land, not in land errors", async (t) => {
  const server = await startTestServer(t);
  // A second lazyaf server stands in for a real remote that wants a password (its token).
  const remote = await startTestServer(t);
  const target = await createRepo(remote, 'upstream');
  const withPassword = (password: string) => {
    const u = new URL(target.clone_url);
    u.username = 'deploy';
    u.password = password;
    return u.toString();
  };
  const secretUrl = withPassword(remote.token);
  const dir = tempDir(t);
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'one\n' });
  const tip = await git(['rev-parse', 'HEAD'], src);

  const created = await api(server, 'POST', '/api/repos', { name: 'creds', remote_url: secretUrl });
  assert.equal(created.status, 201);
  const repo = created.body;
  await git(['push', '-q', pushUrl(server, repo), 'main'], src);
  const responses = [
    created,
    await api(server, 'GET', `/api/repos/${repo.id}`),
    await api(server, 'GET', '/api/repos'),
    await api(server, 'PATCH', `/api/repos/${repo.id}`, { name: 'creds2' }),
  ];
  for (const r of responses) {
    const text = JSON.stringify(r.body);
    assert.ok(!text.includes(remote.token), `the password leaked: ${text}`);
    assert.match(text, /deploy:\*\*\*@|\*\*\*@/);
  }

  const landed = await api(server, 'POST', `/api/repos/${repo.id}/land`, { branch: 'main' });
  assert.equal(landed.status, 200, JSON.stringify(landed.body));
  assert.equal(await branchTip(barePath(remote.dataDir, target.id), 'main'), tip, 'the stored (unredacted) URL was used');
  assert.ok(!JSON.stringify(landed.body).includes(remote.token), JSON.stringify(landed.body));
  assert.match(landed.body.remote_url, /^http:\/\/(deploy:)?\*\*\*@127\.0\.0\.1:/);

  // A wrong password: the push fails, and neither the message nor anything else shows the password.
  const wrongPassword = 'hunter2-wrong-password';
  assert.equal((await api(server, 'PATCH', `/api/repos/${repo.id}`, { remote_url: withPassword(wrongPassword) })).status, 200);
  const denied = await api(server, 'POST', `/api/repos/${repo.id}/land`, { branch: 'main' });
  assert.equal(denied.status, 424);
  assert.ok(!JSON.stringify(denied.body).includes(wrongPassword), JSON.stringify(denied.body));
  assert.match(denied.body.message, /^cannot push to http:\/\/\*\*\*@127\.0\.0\.1:\d+\/git\/\S+\.git: Authentication failed/);
  // The remote itself was not changed by the refused push.
  assert.equal((await tryGit(['ls-remote', pushUrl(remote, target)], dir)).stdout.trim(), `${tip}\tHEAD\n${tip}\trefs/heads/main`);
});

test("the server's land refuses a queued or running job's branch, naming the job; once the job has finished its branch lands by name", async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const origin = path.join(dir, 'origin.git');
  await git(['init', '-q', '--bare', origin]);
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'one\n' });
  const repo = await createRepo(server, 'inflight', { remote_url: origin });
  await git(['push', '-q', pushUrl(server, repo), 'main'], src);
  const runner = await registerRunner(server, 'r1');
  const running = await submit(server, { repo_id: repo.id, title: 'writes its branch', command: 'true' });
  const claimed = await poll(server, runner.token);
  assert.equal(claimed?.job_id, running.id);
  const branch = `lazyaf/${running.id.slice(0, 8)}`;
  // What an attempt pushed so far is on the internal repo, and a later push may still replace it.
  await git(['checkout', '-q', '-b', branch], src);
  const partial = await commitFiles(src, { 'a.txt': 'half done\n' }, 'partial work');
  await git(['push', '-q', pushUrl(server, repo), branch], src);

  const refused = await api(server, 'POST', `/api/repos/${repo.id}/land`, { branch });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.equal(refused.body.error, 'Conflict');
  assert.match(refused.body.message, new RegExp(`^cannot land ${branch}: job ${running.id.slice(0, 8)} is running: its branch is still being written`));
  assert.equal(await tryGit(['rev-parse', '--verify', '-q', `refs/heads/${branch}`], origin).then((r) => r.code), 1, 'nothing reached the remote');

  const queued = await submit(server, { repo_id: repo.id, title: 'waits', command: 'true' });
  const notYet = await api(server, 'POST', `/api/repos/${repo.id}/land`, { branch: `lazyaf/${queued.id.slice(0, 8)}` });
  assert.equal(notYet.status, 409, JSON.stringify(notYet.body));
  assert.match(notYet.body.message, new RegExp(`job ${queued.id.slice(0, 8)} is queued`));

  // Finished (here failed, with its work kept): landing its branch by name is the deliberate step, and it lands.
  const report = { outcome: 'failed', exit_code: 1, commit: partial };
  assert.equal((await api(server, 'POST', RunnerRoutes.complete(claimed.attempt_id), report, { token: claimed.job_token })).status, 200);
  const landed = await api(server, 'POST', `/api/repos/${repo.id}/land`, { branch });
  assert.equal(landed.status, 200, JSON.stringify(landed.body));
  assert.equal(await branchTip(origin, branch), partial);
});

test('a repo delete refused for its unfinished jobs names them, so that they can be cancelled', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'), 'busy');
  const jobs = [];
  for (let i = 0; i < 7; i++) jobs.push(await submit(server, { repo_id: repo.id, title: `waits ${i}`, command: 'true' }));
  const short = jobs.map((j) => j.id.slice(0, 8));

  const many = await api(server, 'DELETE', `/api/repos/${repo.id}`);
  assert.equal(many.status, 409, JSON.stringify(many.body));
  assert.equal(many.body.message, `repo busy has 7 queued or running jobs; cancel them first (jobs ${short.slice(0, 4).join(', ')} and 3 more)`);

  for (const job of jobs.slice(1)) assert.equal((await api(server, 'POST', `/api/jobs/${job.id}/cancel`)).status, 200);
  const one = await api(server, 'DELETE', `/api/repos/${repo.id}`);
  assert.equal(one.status, 409, JSON.stringify(one.body));
  assert.equal(one.body.message, `repo busy has 1 queued or running job; cancel it first (job ${short[0]})`);
});
