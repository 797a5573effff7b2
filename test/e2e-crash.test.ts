import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { isFinished, type Job } from '../src/shared/api.js';
import { authUrl, git, makeRepo, tempDir } from './helpers.js';
import { call, eventually } from './queue-helpers.js';
import { rssBytes, startRunnerProcess, startServerProcess, type ServerProcess } from './e2e-helpers.js';

async function seed(server: ServerProcess, dir: string): Promise<{ id: string; clone_url: string }> {
  const repo = (await call(server, 'POST', '/api/repos', server.token, { name: 'demo' })).body as { id: string; clone_url: string };
  const src = await makeRepo(dir, { 'README.md': '# demo\n' });
  await git(['push', '-q', authUrl(repo.clone_url, server.token), 'main'], src);
  return repo;
}

test('the server SIGKILLed with queued and running jobs, then restarted: every job ends once and only once', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const env = { LAZYAF_LEASE_TTL: '3' };
  let server = await startServerProcess(t, data, { env });
  const repo = await seed(server, path.join(dir, 'src'));
  for (const name of ['r1', 'r2']) startRunnerProcess(t, server, name, path.join(dir, 'runners'));
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) {
    const r = await call<Job>(server, 'POST', '/api/jobs', server.token, { repo_id: repo.id, title: `j${i}`, command: `sleep 1; echo ${i} > f${i}.txt` });
    assert.equal(r.status, 201);
    ids.push(r.body.id);
  }
  await eventually('two jobs running', async () => (await call(server, 'GET', '/api/runners/status', server.token)).body.running_jobs === 2);

  server.child.kill('SIGKILL');
  await new Promise((r) => server.child.once('exit', r));
  // Same port, so the runners find it again; they keep working meanwhile.
  server = await startServerProcess(t, data, { env, port: server.port });

  const jobs = await eventually(
    'every job to finish',
    async () => {
      const list = (await call<{ jobs: Job[] }>(server, 'GET', '/api/jobs?limit=100', server.token)).body.jobs;
      return list.length === ids.length && list.every((j) => isFinished(j.status)) ? list : undefined;
    },
    120_000,
  );
  for (const id of ids) {
    const job = (await call<Job>(server, 'GET', `/api/jobs/${id}`, server.token)).body;
    assert.equal(job.status, 'succeeded', `${job.title}: ${job.error}`);
    const wins = job.attempts!.filter((a) => a.end_reason === 'succeeded');
    assert.equal(wins.length, 1, `${job.title} completed once: ${JSON.stringify(job.attempts)}`);
    assert.equal(job.attempts!.filter((a) => a.ended_at === null).length, 0);
  }
  assert.equal(jobs.length, 8);
});

test('a job printing 100 MB: the log stays within its cap behind a marker, server memory stays flat', async (t) => {
  const dir = tempDir(t);
  const cap = 1024 * 1024;
  const server = await startServerProcess(t, path.join(dir, 'data'), { env: { LAZYAF_LOG_CAP: String(cap) } });
  const repo = await seed(server, path.join(dir, 'src'));
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  // Warm up: one small job so the server has loaded everything it needs.
  const warm = (await call<Job>(server, 'POST', '/api/jobs', server.token, { repo_id: repo.id, title: 'warm', command: 'echo warm' })).body;
  await eventually('warm-up', async () => (await call<Job>(server, 'GET', `/api/jobs/${warm.id}`, server.token)).body.status === 'succeeded');
  const before = rssBytes(server.child.pid!);

  const job = (
    await call<Job>(server, 'POST', '/api/jobs', server.token, {
      repo_id: repo.id,
      title: 'loud',
      command: 'yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 100000000; echo',
    })
  ).body;
  let peak = before;
  const done = await eventually(
    'the loud job',
    async () => {
      peak = Math.max(peak, rssBytes(server.child.pid!));
      const j = (await call<Job>(server, 'GET', `/api/jobs/${job.id}`, server.token)).body;
      return isFinished(j.status) ? j : undefined;
    },
    180_000,
  );
  assert.equal(done.status, 'succeeded', done.error ?? '');
  assert.equal(done.log_truncated, true);
  assert.ok(done.log_bytes <= cap + 1024, `log holds ${done.log_bytes} bytes`);
  const tail = (await call(server, 'GET', `/api/jobs/${job.id}/logs?offset=${Math.max(0, done.log_bytes - 4096)}`, server.token)).body.content as string;
  assert.match(tail, /\[lazyaf: log truncated at 1048576 bytes; further output was dropped\]/);
  const growthMiB = (peak - before) / 1024 / 1024;
  assert.ok(growthMiB < 50, `server RSS grew by ${growthMiB.toFixed(1)} MiB while a job printed 100 MB`);
});
