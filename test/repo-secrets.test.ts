// Secrets per repo, for repo environments (`.lazyaf.yml`'s `secrets` and `job_secrets`): stored
// with `lazyaf secrets set NAME --repo R`, listed by name only, looked up by repo and name with
// the repo's own first, gone with the repo, and hidden from what a runner sends back whatever
// their names. Real server, real SQLite, real CLI and git.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { SecretInfo, SecretList } from '../src/shared/api.js';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { api, cli, eventually, startTestServer, tempDir, type ApiResponse } from './helpers.js';
import { getJob, poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

const NPM_TOKEN = 'npm_repo-scoped-token-0123456789abcdef';

test('per repo through the CLI: set, list and delete; the value never in the API, the CLI, the database list or the server log', async (t) => {
  const dataDir = tempDir(t, 'lazyaf-data-');
  const server = await startTestServer(t, {}, { dataDir, logLevel: 'debug' });
  const demo = await seedRepo(server, path.join(tempDir(t), 'demo'), 'demo');
  const other = await seedRepo(server, path.join(tempDir(t), 'other'), 'other');
  const globalValue = 'npm_global-token-fedcba9876543210';

  const set = await cli(['secrets', 'set', 'NPM_TOKEN', '--repo', 'demo'], { server, input: `${NPM_TOKEN}\n` });
  assert.equal(set.code, 0, set.stderr);
  assert.equal(set.stdout, 'Stored NPM_TOKEN for repo demo\n');
  assert.equal((await cli(['secrets', 'set', 'NPM_TOKEN'], { server, input: globalValue })).code, 0);
  assert.equal((await cli(['secrets', 'set', 'DEPLOY_KEY', '--repo', other.id], { server, input: 'deploy-key-of-other-0123456789' })).code, 0);

  // demo's jobs get its own NPM_TOKEN (the global one is replaced), not other's DEPLOY_KEY.
  const demoList = await cli(['secrets', 'list', '--repo', 'demo'], { server });
  assert.equal(demoList.code, 0, demoList.stderr);
  assert.match(demoList.stdout, /^NAME +FOR +UPDATED\nNPM_TOKEN +repo demo +\d{4}-\S+\n$/);
  const otherList = await cli(['secrets', 'list', '--repo', 'other'], { server });
  assert.match(otherList.stdout, /^NAME +FOR +UPDATED\nDEPLOY_KEY +repo other +\S+\nNPM_TOKEN +all repos +\S+\n$/);
  const all = await cli(['secrets', 'list', '--json'], { server });
  assert.deepEqual(
    (JSON.parse(all.stdout) as SecretInfo[]).map((s) => [s.name, s.repo_name]),
    [
      ['DEPLOY_KEY', 'other'],
      ['NPM_TOKEN', null],
      ['NPM_TOKEN', 'demo'],
    ],
  );
  const viaApi = await api<SecretList>(server, 'GET', `/api/secrets?repo=${demo.id}`);
  assert.equal(viaApi.status, 200);
  assert.deepEqual(Object.keys(viaApi.body.secrets[0]!).sort(), ['created_at', 'name', 'repo_id', 'repo_name', 'updated_at']);
  for (const out of [set, demoList, otherList, all]) assert.ok(!(out.stdout + out.stderr).includes(NPM_TOKEN));
  assert.ok(!JSON.stringify(viaApi.body).includes(NPM_TOKEN));

  const deleted = await cli(['secrets', 'delete', 'NPM_TOKEN', '--repo', 'demo'], { server });
  assert.equal(deleted.code, 0, deleted.stderr);
  const again = await cli(['secrets', 'delete', 'NPM_TOKEN', '--repo', 'demo'], { server });
  assert.equal(again.code, 1);
  assert.equal(again.stderr, 'lazyaf: secret not found: NPM_TOKEN (repo demo)\n');
  assert.match((await cli(['secrets', 'list', '--repo', 'demo'], { server })).stdout, /^NAME +FOR +UPDATED\nNPM_TOKEN +all repos /);
  const nowhere = await cli(['secrets', 'list', '--repo', 'nope'], { server });
  assert.equal(nowhere.code, 1);
  assert.match(nowhere.stderr, /repo not found/);

  const db = new Database(path.join(dataDir, 'lazyaf.db'), { readonly: true });
  t.after(() => db.close());
  assert.deepEqual(db.prepare('SELECT name, repo_id FROM secrets ORDER BY name').all(), [
    { name: 'DEPLOY_KEY', repo_id: other.id },
    { name: 'NPM_TOKEN', repo_id: null },
  ]);
  await eventually('the server logged the requests', () => server.output().includes('/api/secrets/NPM_TOKEN?repo=demo'));
  for (const value of [NPM_TOKEN, globalValue, 'deploy-key-of-other']) assert.ok(!server.output().includes(value), value);
});

test('per repo through the API: hostile names and repo refs are 4xx, and only the admin token may touch them', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const value = { value: 'a-repo-secret-value-0123456789' };
  const put = await api<SecretInfo>(server, 'PUT', `/api/secrets/NPM_TOKEN?repo=${repo.name}`, value);
  assert.equal(put.status, 201, JSON.stringify(put.body));
  assert.deepEqual([put.body.name, put.body.repo_id, put.body.repo_name], ['NPM_TOKEN', repo.id, repo.name]);

  for (const [method, url, status] of [
    ['PUT', '/api/secrets/npm_token?repo=demo', 400],
    ['PUT', '/api/secrets/..%2F..%2FX?repo=demo', 400],
    ['PUT', '/api/secrets/A%20B?repo=demo', 400],
    ['PUT', '/api/secrets/X%00Y?repo=demo', 400],
    ['PUT', '/api/secrets/NPM_TOKEN?repo=', 400],
    ['PUT', `/api/secrets/NPM_TOKEN?repo=${'r'.repeat(201)}`, 400],
    ['PUT', '/api/secrets/NPM_TOKEN?repo=..%2F..%2Fetc', 404],
    ['PUT', '/api/secrets/NPM_TOKEN?repo=demo%00', 404],
    ['PUT', '/api/secrets/NPM_TOKEN?repo=demo&repo=demo', 400],
    ['PUT', '/api/secrets/NPM_TOKEN?repo=demo&other=1', 400],
    ['GET', '/api/secrets?repo=nope', 404],
    ['GET', '/api/secrets?repo=', 400],
    ['GET', '/api/secrets?repo=%2E%2E', 404],
    ['GET', '/api/secrets?repo=demo&x=1', 400],
    ['DELETE', '/api/secrets/NPM_TOKEN?repo=nope', 404],
    ['DELETE', '/api/secrets/npm_token?repo=demo', 400],
    ['DELETE', '/api/secrets/DEPLOY_KEY?repo=demo', 404],
  ] as const) {
    const r = await api(server, method, url, method === 'PUT' ? value : undefined);
    assert.equal(r.status, status, `${method} ${url}: ${JSON.stringify(r.body)}`);
    assert.ok(!JSON.stringify(r.body).includes(value.value));
  }
  assert.deepEqual(
    server.ctx.secrets.list().map((s) => [s.name, s.repo_id]),
    [['NPM_TOKEN', repo.id]],
    'nothing else was stored',
  );

  // A runner's job token belongs to one attempt of one job of this very repo: it reads nothing here.
  const runner = await registerRunner(server, 'r1');
  await submit(server, { repo_id: repo.id, title: 'curious', command: 'true' });
  const a = await poll(server, runner.token);
  assert.ok(a);
  for (const token of [a.job_token, runner.token, server.registrationToken, null]) {
    assert.equal((await api(server, 'GET', `/api/secrets?repo=${repo.id}`, undefined, { token })).status, 401);
    assert.equal((await api(server, 'PUT', `/api/secrets/NPM_TOKEN?repo=${repo.id}`, { value: 'replaced-by-a-job-0123' }, { token })).status, 401);
    assert.equal((await api(server, 'DELETE', `/api/secrets/NPM_TOKEN?repo=${repo.id}`, undefined, { token })).status, 401);
  }
  assert.equal(server.ctx.secretLookup(repo.id, 'NPM_TOKEN'), value.value);

  const docs = (await api(server, 'GET', '/docs/json')).body as {
    paths: Record<string, Record<string, { summary?: string; parameters?: { name: string }[] }>>;
  };
  for (const [route, methods] of Object.entries(docs.paths).filter(([p]) => p.startsWith('/api/secrets')))
    for (const [method, op] of Object.entries(methods)) {
      assert.ok(op.summary, `${method} ${route} has a summary`);
      assert.ok(
        op.parameters?.some((p) => p.name === 'repo'),
        `${method} ${route} takes ?repo=`,
      );
    }
});

test("the lookup: a repo's own secret over the server-wide one, never another repo's, never an agent's credential stored for every repo", async (t) => {
  const server = await startTestServer(t);
  const a = await seedRepo(server, path.join(tempDir(t), 'a'), 'a');
  const b = await seedRepo(server, path.join(tempDir(t), 'b'), 'b');
  const put = async (name: string, value: string, repo?: string) =>
    assert.ok((await api(server, 'PUT', `/api/secrets/${name}${repo ? `?repo=${repo}` : ''}`, { value })).status < 300, name);
  await put('NPM_TOKEN', 'global-npm-token-0123456789');
  await put('NPM_TOKEN', 'a-own-npm-token-0123456789', 'a');
  await put('DEPLOY_KEY', 'a-only-deploy-key-0123456789', 'a');
  await put('ANTHROPIC_API_KEY', 'sk-ant-global-0123456789');
  await put('OPENAI_API_KEY', 'sk-openai-of-repo-b-0123456789', 'b');

  const lookup = server.ctx.secretLookup;
  assert.equal(lookup(a.id, 'NPM_TOKEN'), 'a-own-npm-token-0123456789');
  assert.equal(lookup(b.id, 'NPM_TOKEN'), 'global-npm-token-0123456789');
  assert.equal(lookup(a.id, 'DEPLOY_KEY'), 'a-only-deploy-key-0123456789');
  assert.equal(lookup(b.id, 'DEPLOY_KEY'), undefined, "a's secret is not b's");
  // An agent's key stored for every repo goes to agents only; one stored for the repo is the repo's to use.
  assert.equal(lookup(a.id, 'ANTHROPIC_API_KEY'), undefined);
  assert.equal(lookup(b.id, 'OPENAI_API_KEY'), 'sk-openai-of-repo-b-0123456789');
  assert.equal(lookup(a.id, 'OPENAI_API_KEY'), undefined);
  for (const hostile of ['npm_token', "NPM_TOKEN' OR 1=1 --", '', 'A'.repeat(129), '%']) assert.equal(lookup(a.id, hostile), undefined, hostile);
  assert.equal(lookup("a' OR repo_id IS NOT NULL --", 'DEPLOY_KEY'), undefined);

  // Changed and deleted: the next lookup sees it (nothing cached).
  await put('NPM_TOKEN', 'a-rotated-npm-token-0123456789', 'a');
  assert.equal(lookup(a.id, 'NPM_TOKEN'), 'a-rotated-npm-token-0123456789');
  assert.equal((await api(server, 'DELETE', '/api/secrets/NPM_TOKEN?repo=a')).status, 204);
  assert.equal(lookup(a.id, 'NPM_TOKEN'), 'global-npm-token-0123456789');
});

test('deleting a repo deletes its secrets, and a new repo of the same name does not inherit them', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'), 'gone');
  const keep = await seedRepo(server, path.join(tempDir(t), 'keep'), 'keep');
  for (const [name, query] of [
    ['NPM_TOKEN', '?repo=gone'],
    ['DEPLOY_KEY', '?repo=gone'],
    ['NPM_TOKEN', '?repo=keep'],
    ['NPM_TOKEN', ''],
  ])
    assert.equal((await api(server, 'PUT', `/api/secrets/${name}${query}`, { value: `value-of-${name}${query}-0123456789` })).status, 201);
  assert.equal((await api(server, 'DELETE', `/api/repos/${repo.id}`)).status, 204);

  const left = server.ctx.db.prepare('SELECT name, repo_id FROM secrets ORDER BY name, repo_id').all();
  assert.deepEqual(left, [
    { name: 'NPM_TOKEN', repo_id: null },
    { name: 'NPM_TOKEN', repo_id: keep.id },
  ]);
  assert.equal(server.ctx.secretLookup(repo.id, 'DEPLOY_KEY'), undefined);
  const again = await seedRepo(server, path.join(tempDir(t), 'again'), 'gone');
  assert.notEqual(again.id, repo.id);
  assert.equal(server.ctx.secretLookup(again.id, 'DEPLOY_KEY'), undefined);
  assert.equal(server.ctx.secretLookup(again.id, 'NPM_TOKEN'), 'value-of-NPM_TOKEN-0123456789');
  assert.deepEqual(
    (await api<SecretList>(server, 'GET', '/api/secrets?repo=gone')).body.secrets.map((s) => [s.name, s.repo_id]),
    [['NPM_TOKEN', null]],
  );
});

test('a repo secret a runner echoes is stored redacted, whatever its name: log chunks, a report, a transcript; an agent setting stays readable', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const dbUrl = 'postgres://app:db-password-0123456789@db.internal/app';
  const plain = 'plain-named-repo-secret-0123456789';
  const gateway = 'http://gateway.internal:8080/v1';
  for (const [name, value, query] of [
    ['NPM_TOKEN', NPM_TOKEN, `?repo=${repo.name}`],
    ['DATABASE_URL', dbUrl, `?repo=${repo.name}`],
    ['SENTRY_DSN', plain, `?repo=${repo.name}`],
    ['ANTHROPIC_BASE_URL', gateway, ''],
  ])
    assert.equal((await api(server, 'PUT', `/api/secrets/${name}${query}`, { value })).status, 201, name);

  const runner = await registerRunner(server, 'r1', [], ['claude']);
  const job = await submit(server, { repo_id: repo.id, title: 'setup prints its secrets', command: 'true' });
  const a = await poll(server, runner.token);
  assert.ok(a);
  assert.equal(a.job_id, job.id);
  // One value whole per chunk, one cut across two chunks: its part already stored becomes `*`s.
  const chunks = [`npm ci with ${NPM_TOKEN}\n`, `connecting to ${dbUrl}\n`, `dsn ${plain.slice(0, 12)}`, `${plain.slice(12)} ok\n`, `via ${gateway}\n`];
  for (const [i, data] of chunks.entries()) {
    const sent: ApiResponse = await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq: i + 1, data }, { token: a.job_token });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
  }
  const report = { outcome: 'failed', exit_code: 1, error: `setup failed: token ${NPM_TOKEN} refused` };
  assert.equal((await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), report, { token: a.job_token })).status, 200);

  const log = (await api(server, 'GET', `/api/jobs/${job.id}/logs`)).body.content as string;
  for (const value of [NPM_TOKEN, dbUrl, 'db-password-0123456789', plain]) assert.ok(!log.includes(value), `${value} in\n${log}`);
  assert.match(log, /npm ci with \[redacted\]\nconnecting to \[redacted\]\ndsn \*{12}\[redacted\] ok\n/);
  assert.ok(log.includes(`via ${gateway}\n`), 'an agent setting is no secret: it stays readable');
  const done = await getJob(server, job.id);
  assert.ok(!JSON.stringify(done).includes(NPM_TOKEN), JSON.stringify(done));

  // An agent job's transcript: the repo's secret hidden there too.
  const agentJob = await submit(server, { repo_id: repo.id, title: 'agent', agent: 'claude' });
  const b = await poll(server, runner.token);
  assert.ok(b);
  assert.equal(b.job_id, agentJob.id);
  const entry = { type: 'tool', kind: 'command', tool: 'Bash', command: `echo ${plain}`, output: `${plain}\n`, exit_code: 0 };
  assert.equal((await api(server, 'POST', RunnerRoutes.transcript(b.attempt_id), { seq: 1, entries: [entry] }, { token: b.job_token })).status, 200);
  const stored = JSON.stringify((await api(server, 'GET', `/api/jobs/${agentJob.id}/transcript`)).body);
  assert.ok(!stored.includes(plain), stored);
  assert.match(stored, /echo \[redacted\]/);
});
