// How the server ends a running attempt: a cancel (the runner told at once, its token kept for
// the cancel grace, the attempt ended by the server when the runner never reports), a lease that
// expired, a timeout passed while the runner still heartbeats. The runner protocol is spoken by hand.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { api, basicAuth, eventually, startTestServer, tempDir } from './helpers.js';
import { getJob, poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

test('the sweeper expires each lease on its own: one that fails is reported and retried, the others still expire', async (t) => {
  const server = await startTestServer(t, { LAZYAF_LEASE_TTL: '1' });
  const { queue, store, db } = server.ctx;
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const r1 = await registerRunner(server, 'r1');
  const r2 = await registerRunner(server, 'r2');
  const stuck = await submit(server, { repo_id: repo.id, title: 'stuck', command: 'true' });
  const other = await submit(server, { repo_id: repo.id, title: 'other', command: 'true' });
  const a = await poll(server, r1.token);
  const b = await poll(server, r2.token);
  assert.equal(a?.job_id, stuck.id);
  assert.equal(b?.job_id, other.id);
  // A real failure inside SQLite for one attempt only, standing for whatever a bad row could cause.
  db.exec(`CREATE TRIGGER planted BEFORE UPDATE OF active ON attempts WHEN OLD.id = '${a.attempt_id}' BEGIN SELECT RAISE(ABORT, 'planted failure'); END`);

  const failed = await eventually('the other lease to expire', async () => {
    const swept = queue.sweep();
    return store.attempts.get(b.attempt_id)?.active === 0 && swept.failed;
  });
  assert.deepEqual(
    failed.map((f) => f.attempt_id),
    [a.attempt_id],
  );
  assert.match(failed[0]!.error, /planted failure/);
  assert.equal((await getJob(server, other.id)).attempts?.[0]?.end_reason, 'lost');
  assert.equal(store.attempts.get(a.attempt_id)?.active, 1);

  db.exec('DROP TRIGGER planted');
  await eventually('the failed lease to expire on a later sweep', async () => store.attempts.get(a.attempt_id)?.active === 0);
  assert.equal((await getJob(server, stuck.id)).attempts?.[0]?.end_reason, 'lost');
});

test('cancelling a running job tells its runner at once and keeps its token for the cancel grace: it reports what it left, then the token dies', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const r = await registerRunner(server, 'r');
  const job = await submit(server, { repo_id: repo.id, title: 'cancel me', command: 'sleep 100' });
  const a = await poll(server, r.token);
  assert.equal(a?.job_id, job.id);
  const heartbeat = api(server, 'POST', RunnerRoutes.heartbeat, { status: 'busy', attempts: [a.attempt_id], wait_ms: 60_000 }, { token: r.token });

  const cancelled = await api(server, 'POST', `/api/jobs/${job.id}/cancel`);
  assert.equal(cancelled.status, 200);
  assert.equal(cancelled.body.status, 'running');
  assert.equal(cancelled.body.cancel_requested, true);
  assert.deepEqual((await heartbeat).body.cancel, [a.attempt_id], 'the runner is told to stop');

  // Within the grace the attempt is live: the runner may still push its branch, log and report.
  const receive = await fetch(`${a.clone_url}/info/refs?service=git-receive-pack`, { headers: { authorization: basicAuth(a.job_token) } });
  assert.equal(receive.status, 200, 'the job token still pushes during the cancel grace');
  await receive.arrayBuffer();
  assert.equal((await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq: 1, data: 'stopping\n' }, { token: a.job_token })).status, 200);
  // Whatever the runner says the command did, a cancelled job ends cancelled.
  const report = await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'failed', exit_code: null }, { token: a.job_token });
  assert.equal(report.status, 200, JSON.stringify(report.body));
  const done = await getJob(server, job.id);
  assert.equal(done.status, 'cancelled');
  assert.equal(done.exit_code, null);

  assert.equal((await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq: 2, data: 'late\n' }, { token: a.job_token })).status, 409);
  const refs = await fetch(`${a.clone_url}/info/refs?service=git-receive-pack`, { headers: { authorization: basicAuth(a.job_token) } });
  assert.equal(refs.status, 401, 'the token died with the report');
  await refs.arrayBuffer();

  const next = await submit(server, { repo_id: repo.id, title: 'next', command: 'true' });
  assert.equal((await poll(server, r.token))?.job_id, next.id, 'the runner is free for the next job');
});

test('a cancelled job whose runner never reports is ended by the server once the cancel grace has passed', async (t) => {
  const server = await startTestServer(t, { LAZYAF_CANCEL_GRACE: '1' });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const r = await registerRunner(server, 'deaf');
  const job = await submit(server, { repo_id: repo.id, title: 'ignore the cancel', command: 'sleep 100' });
  const a = await poll(server, r.token);
  assert.equal(a?.job_id, job.id);
  assert.equal((await api(server, 'POST', `/api/jobs/${job.id}/cancel`)).status, 200);

  // The runner keeps heartbeating but never stops: the sweeper ends the attempt as cancelled, not as a timeout.
  const done = await eventually('the server to end the cancelled attempt', async () => {
    await api(server, 'POST', RunnerRoutes.heartbeat, { status: 'busy', attempts: [a.attempt_id] }, { token: r.token });
    const current = await getJob(server, job.id);
    return current.status === 'cancelled' && current;
  });
  assert.equal(done.attempts?.[0]?.end_reason, 'cancelled');
  assert.match(done.attempts?.[0]?.error ?? '', /did not report within 1 s of the cancel/);
  const late = await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'cancelled', exit_code: null }, { token: a.job_token });
  assert.ok(late.status === 200 || late.status === 409, `${late.status} ${JSON.stringify(late.body)}`);
});

test('the server ends an attempt that outlives its timeout, even while its runner keeps heartbeating', async (t) => {
  const server = await startTestServer(t, { LAZYAF_LEASE_TTL: '8', LAZYAF_TIMEOUT_GRACE: '0' });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const r = await registerRunner(server, 'stuck');
  const job = await submit(server, { repo_id: repo.id, title: 'stuck', command: 'sleep 100', timeout_s: 1 });
  const a = await poll(server, r.token);
  assert.equal(a?.job_id, job.id);

  const lost = await eventually(
    'the server to time the attempt out',
    async () => {
      const hb = await api(server, 'POST', RunnerRoutes.heartbeat, { status: 'busy', attempts: [a.attempt_id] }, { token: r.token });
      return hb.body.lost.includes(a.attempt_id) && hb.body.lost;
    },
    20_000,
  );
  assert.deepEqual(lost, [a.attempt_id]);
  const failed = await getJob(server, job.id);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.attempts?.[0]?.end_reason, 'timeout');
  assert.match(failed.error ?? '', /timed out after 1 s/);
  assert.equal((await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq: 1, data: 'late\n' }, { token: a.job_token })).status, 409);
});
