// A job's log as runners send it, in numbered chunks: an empty chunk stores nothing and breaks
// nothing after it, and a database an older version wedged with one is repaired by its migration.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { migrate } from '../src/server/db/index.js';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { api, startTestServer, tempDir } from './helpers.js';
import { getJob, poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

test('an empty log chunk is accepted and stores nothing; the next chunk, completion and revocation still work', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const r1 = await registerRunner(server, 'r1');
  const r2 = await registerRunner(server, 'r2');
  const done = await submit(server, { repo_id: repo.id, title: 'completes', command: 'true' });
  const revoked = await submit(server, { repo_id: repo.id, title: 'revoked', command: 'true' });
  const a = await poll(server, r1.token);
  const b = await poll(server, r2.token);
  assert.equal(a?.job_id, done.id);
  assert.equal(b?.job_id, revoked.id);

  for (const x of [a, b]) {
    for (const [seq, data] of [
      [1, ''],
      [2, 'x\n'],
      [3, ''],
      [4, 'y\n'],
    ] as const) {
      const sent = await api(server, 'POST', RunnerRoutes.logs(x.attempt_id), { seq, data }, { token: x.job_token });
      assert.equal(sent.status, 200, `chunk ${seq} ${JSON.stringify(data)}: ${JSON.stringify(sent.body)}`);
      assert.equal(sent.body.accepted, true);
    }
  }
  const completed = await api(
    server,
    'POST',
    RunnerRoutes.complete(a.attempt_id),
    { outcome: 'succeeded', exit_code: 0, commit: null },
    { token: a.job_token },
  );
  assert.equal(completed.status, 200, JSON.stringify(completed.body));
  assert.equal((await api(server, 'DELETE', `/api/runners/${r2.runner_id}`)).status, 204);
  assert.equal((await getJob(server, revoked.id)).status, 'queued', 'the revoked runner gave its job back');

  const logs = await api(server, 'GET', `/api/jobs/${done.id}/logs`);
  assert.match(logs.body.content, /x\ny\n/);
  assert.match(logs.body.content, /attempt 1 ended: succeeded/);
});

test('a database wedged by an empty chunk an older version stored is repaired by its migration', async (t) => {
  const server = await startTestServer(t);
  const { db } = server.ctx;
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const r = await registerRunner(server, 'r');
  const job = await submit(server, { repo_id: repo.id, title: 'wedged', command: 'true' });
  const a = await poll(server, r.token);
  assert.ok(a);
  // What the old append did with `{"seq":1,"data":""}`: a row at the end of the log that advanced nothing.
  db.prepare('INSERT INTO log_chunks (job_id, offset, data) VALUES (?, ?, ?)').run(job.id, server.ctx.store.jobs.get(job.id)!.log_bytes, Buffer.alloc(0));
  db.prepare('DELETE FROM migrations WHERE id = 3').run();
  assert.equal(
    (await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq: 1, data: 'x' }, { token: a.job_token })).status,
    500,
    'wedged as the old version left it',
  );

  assert.deepEqual(migrate(db), [3]);
  assert.equal((await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq: 2, data: 'x' }, { token: a.job_token })).status, 200);
  assert.equal((await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'succeeded', exit_code: 0 }, { token: a.job_token })).status, 200);
});
