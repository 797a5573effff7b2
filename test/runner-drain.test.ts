import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { startRunner } from '../src/runner/runner.js';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { api, startTestServer, tempDir } from './helpers.js';
import { envRelay } from './env-helpers.js';
import { registerRunner, seedRepo, submit, waitForJob } from './queue-helpers.js';

// A drain finishes the job a runner has, and takes no new one; a job claimed for it while the
// answer was on its way is its job already.

test('a runner drained while the answer with its job is on its way runs that job, then leaves', async (t) => {
  const server = await startTestServer(t);
  // Every answer that carries a job reaches the runner 1.5 s after the server claimed it.
  const relay = await envRelay(server, () => undefined, { holdAssignmentMs: 1500 });
  const lines: string[] = [];
  const runner = startRunner({
    server: relay.url,
    registrationToken: server.ctx.registrationToken,
    name: 'drained',
    labels: [],
    workdir: tempDir(t),
    log: (line) => lines.push(line),
    killGraceMs: 500,
    shutdownReportMs: 3000,
  });
  t.after(async () => {
    await runner.stop();
    await relay.close();
  });
  await runner.registered;
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const job = await submit(server, { repo_id: repo.id, title: 'claimed', command: 'echo ran' });
  await waitForJob(server, job.id, (j) => j.status === 'running');

  runner.drain();
  const done = await waitForJob(server, job.id, undefined, 30_000);
  assert.equal(done.status, 'succeeded', `${done.error}\n${lines.join('\n')}`);
  await runner.done;
  assert.ok(!lines.some((l) => /giving it back/.test(l)), lines.join('\n'));
});

test("a poll held open ends at once with no job when its runner's heartbeat says it drains", async (t) => {
  const server = await startTestServer(t);
  const reg = await registerRunner(server, 'poller');
  const started = Date.now();
  const polling = api(server, 'POST', RunnerRoutes.poll, { wait_ms: 25_000 }, { token: reg.token });
  // The poll is waiting once the runner shows as polled; give it a moment to be held.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal((await api(server, 'POST', RunnerRoutes.heartbeat, { status: 'draining', attempts: [] }, { token: reg.token })).status, 200);
  const answer = await polling;
  assert.equal(answer.status, 204);
  assert.ok(Date.now() - started < 15_000, `the poll waited ${Date.now() - started} ms`);
  // And a job submitted now is not given to it.
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  await submit(server, { repo_id: repo.id, title: 'not for a draining runner', command: 'true' });
  assert.equal((await api(server, 'POST', RunnerRoutes.poll, { wait_ms: 0 }, { token: reg.token })).status, 409);
});
