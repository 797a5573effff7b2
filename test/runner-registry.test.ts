import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { PROTOCOL_VERSION, RunnerRoutes } from '../src/shared/protocol.js';
import { api, eventually, startTestServer, tempDir } from './helpers.js';
import { getJob, poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

test('registration is rate-limited: a burst is allowed, then 429 with Retry-After, and a wrong token costs nothing', async (t) => {
  const server = await startTestServer(t, { LAZYAF_REGISTER_BURST: '3', LAZYAF_REGISTER_RATE: '0.5' });
  const register = (token: string) => api(server, 'POST', RunnerRoutes.register, { name: 'r', protocol_version: PROTOCOL_VERSION }, { token });
  for (let i = 0; i < 3; i++) assert.equal((await register(server.ctx.registrationToken)).status, 201);
  const refused = await register(server.ctx.registrationToken);
  assert.equal(refused.status, 429, JSON.stringify(refused.body));
  assert.match(refused.body.message, /too many runner registrations/);
  assert.ok(Number(refused.headers.get('retry-after')) >= 1, `Retry-After: ${refused.headers.get('retry-after')}`);
  assert.equal((await register('lzreg_wrong')).status, 401);
  assert.equal((await api(server, 'GET', '/api/runners')).body.total, 3);
  await eventually('the bucket to refill', async () => (await register(server.ctx.registrationToken)).status === 201);
});

test('runners offline or revoked for longer than LAZYAF_RUNNER_PRUNE_AFTER are pruned; their jobs keep their history', async (t) => {
  const server = await startTestServer(t, { LAZYAF_LEASE_TTL: '1', LAZYAF_RUNNER_PRUNE_AFTER: '1' });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const silent = await registerRunner(server, 'silent');
  const revoked = await registerRunner(server, 'revoked');
  const alive = await registerRunner(server, 'alive');
  const job = await submit(server, { repo_id: repo.id, title: 'history', command: 'true' });
  const a = await poll(server, silent.token);
  assert.equal(a?.job_id, job.id);
  assert.equal((await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'succeeded', exit_code: 0 }, { token: a.job_token })).status, 200);
  assert.equal((await api(server, 'DELETE', `/api/runners/${revoked.runner_id}`)).status, 204);

  const left = await eventually('the silent and revoked runners to be pruned', async () => {
    await api(server, 'POST', RunnerRoutes.heartbeat, { status: 'idle', attempts: [] }, { token: alive.token });
    const count = server.ctx.db.prepare('SELECT COUNT(*) FROM runners').pluck().get();
    return count === 1 && (await api(server, 'GET', '/api/runners')).body;
  });
  assert.deepEqual(
    left.runners.map((r: { name: string }) => r.name),
    ['alive'],
  );
  assert.equal(left.total, 1);
  assert.equal(
    (await api(server, 'POST', RunnerRoutes.heartbeat, { status: 'idle', attempts: [] }, { token: silent.token })).status,
    401,
    'a pruned runner registers again',
  );
  const history = await getJob(server, job.id);
  assert.equal(history.status, 'succeeded');
  assert.equal(history.attempts?.[0]?.runner_id, silent.runner_id);
});

test('the runner list is paged: limit and offset, with the full count in total', async (t) => {
  const server = await startTestServer(t);
  for (let i = 0; i < 5; i++) await registerRunner(server, `r${i}`);
  const page = await api(server, 'GET', '/api/runners?limit=2');
  assert.equal(page.status, 200);
  assert.equal(page.body.runners.length, 2);
  assert.equal(page.body.total, 5);
  assert.equal((await api(server, 'GET', '/api/runners?limit=2&offset=4')).body.runners.length, 1);
  assert.equal((await api(server, 'GET', '/api/runners?limit=5000')).status, 400);
  assert.equal((await api(server, 'GET', '/api/runners')).body.runners.length, 5);
});

test("a runner's wall is one of bubblewrap, container and none, shown in the runner list; anything else is a 400", async (t) => {
  const server = await startTestServer(t);
  const register = (name: string, sandbox: string) =>
    api(server, 'POST', RunnerRoutes.register, { name, protocol_version: PROTOCOL_VERSION, sandbox }, { token: server.ctx.registrationToken });
  for (const sandbox of ['bubblewrap', 'container', 'none']) assert.equal((await register(`in-${sandbox}`, sandbox)).status, 201);
  const refused = await register('in-nothing', 'a cardboard box');
  assert.equal(refused.status, 400, JSON.stringify(refused.body));
  const { runners } = (await api(server, 'GET', '/api/runners')).body;
  assert.deepEqual(Object.fromEntries(runners.map((r: { name: string; sandbox: string }) => [r.name, r.sandbox])), {
    'in-bubblewrap': 'bubblewrap',
    'in-container': 'container',
    'in-none': 'none',
  });
});
