// A runner route reads its token's row once, before the body; the queue operation it then calls
// may act on a row that changed meanwhile. Each is fenced in its transaction: these call the
// queue with such a stale row, as a request racing a revocation or an attempt's end would.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ApiError } from '../src/server/errors.js';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { api, startTestServer, tempDir } from './helpers.js';
import { getJob, poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

test('a claim for a runner revoked since its row was read takes nothing, and the job waits for another runner', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const gone = await registerRunner(server, 'gone');
  const stale = server.ctx.store.runners.get(gone.runner_id)!;
  assert.equal((await api(server, 'DELETE', `/api/runners/${gone.runner_id}`)).status, 204);
  const job = await submit(server, { repo_id: repo.id, title: 'waits', command: 'true' });

  assert.equal(server.ctx.queue.claim(stale), undefined);
  const after = await getJob(server, job.id);
  assert.equal(after.status, 'queued');
  assert.equal(after.attempt_count, 0);
  assert.equal(server.ctx.store.runners.get(gone.runner_id)?.status, 'offline');

  const other = await registerRunner(server, 'other');
  assert.equal((await poll(server, other.token))?.job_id, job.id);
});

test('a log chunk for an attempt that ended since its row was read is refused as a lost lease, not taken for a resend', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r1');
  const job = await submit(server, { repo_id: repo.id, title: 'ends', command: 'true' });
  const a = await poll(server, runner.token);
  assert.equal(a?.job_id, job.id);
  const stale = server.ctx.store.attempts.get(a.attempt_id)!;
  const first = await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq: 1, data: 'one\n' }, { token: a.job_token });
  assert.equal(first.body.accepted, true);
  // A resend while the lease is live is answered as one.
  assert.deepEqual(server.ctx.queue.appendLog(stale, 1, 'one\n'), { accepted: false, truncated: false });

  const done = await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'succeeded', exit_code: 0, commit: null }, { token: a.job_token });
  assert.equal(done.status, 200);
  assert.throws(
    () => server.ctx.queue.appendLog(stale, 2, 'late\n'),
    (err: unknown) => err instanceof ApiError && err.statusCode === 409,
  );
  assert.throws(
    () => server.ctx.store.transcripts.append(stale, 1, [{ type: 'message', role: 'assistant', text: 'late' }]),
    (err: unknown) => err instanceof ApiError && err.statusCode === 409,
  );
  // Over HTTP the same chunk is a 409 too.
  const late = await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq: 2, data: 'late\n' }, { token: a.job_token });
  assert.equal(late.status, 409);
});
