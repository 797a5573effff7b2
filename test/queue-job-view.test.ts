import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Job, JobList } from '../src/shared/api.js';
import { PROTOCOL_VERSION, RunnerRoutes, type Assignment, type RegisterResponse } from '../src/shared/protocol.js';
import { api, startTestServer, tempDir, type TestServer } from './helpers.js';
import { getJob, poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

/** Ends an attempt as its runner reports it. */
async function fail(server: TestServer, a: Assignment): Promise<void> {
  const r = await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'failed', exit_code: 1, commit: null }, { token: a.job_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

/** A pool slot's runner; registering the slot again ends the attempt its previous runner held as lost. */
async function slotRunner(server: TestServer, poolId: string): Promise<RegisterResponse> {
  const body = { name: `slot-${poolId}`, labels: [], pool_id: poolId, protocol_version: PROTOCOL_VERSION };
  return (await api<RegisterResponse>(server, 'POST', RunnerRoutes.register, body, { token: server.ctx.registrationToken })).body;
}

test("an attempt keeps the name of the runner that took it, once that runner is gone; so do a job's view and the job list", async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const job = await submit(server, { repo_id: repo.id, title: 'named', command: 'false' });
  const runner = await registerRunner(server, 'alpha');
  const a = await poll(server, runner.token);
  assert.ok(a);
  await fail(server, a);
  // A restarted server's runners register again under new ids, and the old rows are pruned.
  server.ctx.db.prepare('DELETE FROM runners WHERE id = ?').run(runner.runner_id);

  const view = await getJob(server, job.id);
  assert.equal(view.runner_id, runner.runner_id);
  assert.equal(view.attempts?.[0]?.runner_name, 'alpha');
  assert.equal(view.runner_name, 'alpha');
  const listed = (await api<JobList>(server, 'GET', '/api/jobs')).body.jobs.find((j) => j.id === job.id);
  assert.equal(listed?.runner_name, 'alpha');
});

test('a retry starts a new run: the attempts shown count from it against the same max, and the lost-attempt cap applies to it alone', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const job = await submit(server, { repo_id: repo.id, title: 'again', command: 'false', max_attempts: 3 });
  const first = await poll(server, (await registerRunner(server, 'r1')).token);
  assert.ok(first);
  let shown = await getJob(server, job.id);
  assert.deepEqual([shown.run_attempt_count, shown.max_attempts, shown.attempt_count], [1, 3, 1]);
  await fail(server, first);
  assert.equal((await api(server, 'POST', `/api/jobs/${job.id}/retry`)).status, 200);

  // The new run loses its runner three times, the cap: the job fails then, not a fourth time later.
  let slot = await slotRunner(server, 'p1');
  for (let lost = 1; lost <= 3; lost++) {
    assert.ok(await poll(server, slot.token), `claim ${lost} of the new run`);
    shown = await getJob(server, job.id);
    assert.deepEqual([shown.run_attempt_count, shown.max_attempts, shown.attempt_count], [lost, 3, lost + 1], `during attempt ${lost} of the new run`);
    slot = await slotRunner(server, 'p1');
  }
  shown = await getJob(server, job.id);
  assert.equal(shown.status, 'failed');
  assert.match(shown.error ?? '', /lost its runner 3 times \(the cap is 3\)/);
});

test('the job list is newest first by creation: a retried job keeps its place, under jobs created after it', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const older = await submit(server, { repo_id: repo.id, title: 'older', command: 'false' });
  const runner = await registerRunner(server, 'r1');
  const a = await poll(server, runner.token);
  assert.equal(a?.job_id, older.id);
  await fail(server, a);
  const newer = await submit(server, { repo_id: repo.id, title: 'newer', command: 'true' });
  assert.equal((await api<Job>(server, 'POST', `/api/jobs/${older.id}/retry`)).status, 200);

  const listed = (await api<JobList>(server, 'GET', '/api/jobs')).body.jobs;
  assert.deepEqual(
    listed.map((j) => j.title),
    ['newer', 'older'],
  );
  assert.ok(listed[0]!.created_at > listed[1]!.created_at);
  // The queue's order is another matter: the retried job waits behind the one queued before its retry.
  assert.equal((await poll(server, runner.token))?.job_id, newer.id);
});
