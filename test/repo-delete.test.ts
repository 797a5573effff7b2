// Deleting a repo is refused while any of its jobs is queued or running, a cancelled one still
// pushing what it left included: the jobs and their attempts are not pulled from under them.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { api, startTestServer, tempDir } from './helpers.js';
import { getJob, poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

test('a repo with a queued or running job cannot be deleted from under it: 409 until the jobs are finished', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r1');
  const running = await submit(server, { repo_id: repo.id, title: 'running', command: 'true' });
  const claimed = await poll(server, runner.token);
  assert.equal(claimed?.job_id, running.id);
  const queued = await submit(server, { repo_id: repo.id, title: 'queued', command: 'true' });

  const refused = await api(server, 'DELETE', `/api/repos/${repo.id}`);
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.match(refused.body.message, /has 2 queued or running jobs; cancel them first/);
  assert.equal((await getJob(server, queued.id)).status, 'queued', 'nothing was lost');
  assert.equal((await api(server, 'POST', RunnerRoutes.logs(claimed.attempt_id), { seq: 1, data: 'still here\n' }, { token: claimed.job_token })).status, 200);

  await api(server, 'POST', `/api/jobs/${queued.id}/cancel`);
  await api(server, 'POST', `/api/jobs/${running.id}/cancel`);
  const cancelling = await api(server, 'DELETE', `/api/repos/${repo.id}`);
  assert.equal(cancelling.status, 409, 'a cancelled job still pushing what it left holds its repo');
  const report = { outcome: 'cancelled', exit_code: null };
  assert.equal((await api(server, 'POST', RunnerRoutes.complete(claimed.attempt_id), report, { token: claimed.job_token })).status, 200);
  assert.equal((await api(server, 'DELETE', `/api/repos/${repo.id}`)).status, 204);
  assert.equal((await api(server, 'GET', `/api/jobs/${queued.id}`)).status, 404);
});
