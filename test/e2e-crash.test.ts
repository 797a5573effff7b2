import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Job } from '../src/shared/api.js';
import { api, eventually, startTestServer, tempDir } from './helpers.js';
import { ended, rssBytes, seedRepo, startRunnerProcess, submit, waitForJob } from './queue-helpers.js';

test('the server SIGKILLed with queued and running jobs, then restarted: every job ends once and only once', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const env = { LAZYAF_LEASE_TTL: '3' };
  let server = await startTestServer(t, env, { dataDir: data });
  const repo = await seedRepo(server, path.join(dir, 'src'));
  for (const name of ['r1', 'r2']) startRunnerProcess(t, server, name, path.join(dir, 'runners'));
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) {
    ids.push((await submit(server, { repo_id: repo.id, title: `j${i}`, command: `sleep 1; echo ${i} > f${i}.txt` })).id);
  }
  await eventually('two jobs running', async () => (await api(server, 'GET', '/api/runners/status')).body.running_jobs === 2);

  server.child.kill('SIGKILL');
  await new Promise((r) => server.child.once('exit', r));
  // Same port, so the runners find it again; they keep working meanwhile.
  server = await startTestServer(t, env, { dataDir: data, port: server.port });

  await eventually(
    'every job to finish',
    async () => {
      const list = (await api<{ jobs: Job[] }>(server, 'GET', '/api/jobs?limit=100')).body.jobs;
      return list.length === ids.length && list.every(ended);
    },
    120_000,
  );
  for (const id of ids) {
    const job = (await api<Job>(server, 'GET', `/api/jobs/${id}`)).body;
    assert.equal(job.status, 'succeeded', `${job.title}: ${job.error}`);
    const wins = job.attempts!.filter((a) => a.end_reason === 'succeeded');
    assert.equal(wins.length, 1, `${job.title} completed once: ${JSON.stringify(job.attempts)}`);
    assert.equal(job.attempts!.filter((a) => a.ended_at === null).length, 0);
  }
});

test('a job printing 100 MB: the log stays within its cap behind a marker, server memory stays flat', async (t) => {
  const dir = tempDir(t);
  const cap = 1024 * 1024;
  const server = await startTestServer(t, { LAZYAF_LOG_CAP: String(cap) }, { dataDir: path.join(dir, 'data') });
  const repo = await seedRepo(server, path.join(dir, 'src'));
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  // Warm up: one small job so the server has loaded everything it needs.
  const warm = await submit(server, { repo_id: repo.id, title: 'warm', command: 'echo warm' });
  assert.equal((await waitForJob(server, warm.id)).status, 'succeeded');
  const before = rssBytes(server.child.pid!);

  const job = await submit(server, {
    repo_id: repo.id,
    title: 'loud',
    command: 'yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 100000000; echo',
  });
  let peak = before;
  // The server's memory is sampled at every look at the job.
  const done = await waitForJob(
    server,
    job.id,
    (j) => {
      peak = Math.max(peak, rssBytes(server.child.pid!));
      return ended(j);
    },
    180_000,
  );
  assert.equal(done.status, 'succeeded', done.error ?? '');
  assert.equal(done.log_truncated, true);
  assert.ok(done.log_bytes <= cap + 1024, `log holds ${done.log_bytes} bytes`);
  const tail = (await api(server, 'GET', `/api/jobs/${job.id}/logs?offset=${Math.max(0, done.log_bytes - 4096)}`)).body.content as string;
  assert.match(tail, /\[lazyaf: log truncated at 1048576 bytes; further output was dropped\]/);
  const growthMiB = (peak - before) / 1024 / 1024;
  assert.ok(growthMiB < 50, `server RSS grew by ${growthMiB.toFixed(1)} MiB while a job printed 100 MB`);
});
