// A runner holds its work dir with a pid file while it lives: another runner given the same dir
// waits until it has left. A pid that is no runner any more holds nothing; the runner image's
// bundled runner counts as a runner.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { RunnerList } from '../src/shared/api.js';
import { workdirHolder } from '../src/shared/workdir-lock.js';
import { api, eventually, ROOT, spawnChild, startTestServer, tempDir } from './helpers.js';
import { runJob, seedRepo, startRunnerProcess } from './queue-helpers.js';

test('a runner waits while another live runner holds its work dir, and takes it once that one has left', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const runners = path.join(dir, 'runners');
  const listed = async () => (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.map((r) => r.name);
  const holder = startRunnerProcess(t, server, 'slot', runners);
  await eventually('the first runner registered', async () => (await listed()).length === 1);

  // Same name, so the same work dir.
  const second = startRunnerProcess(t, server, 'slot', runners);
  await eventually('the second runner to wait', () => /waiting for the runner with pid \d+ to leave/.test(second.output()));
  assert.equal((await listed()).length, 1, 'it did not register while the work dir was held');

  holder.child.kill('SIGTERM');
  await eventually('the second runner registered', async () => (await listed()).length === 1 && /registered as slot/.test(second.output()));
  const repo = await seedRepo(server, path.join(dir, 'src'));
  const job = await runJob(server, { repo_id: repo.id, title: 'after', command: 'true' });
  assert.equal(job.status, 'succeeded', job.error ?? '');
});

test('a pid file whose pid now belongs to another program does not hold the work dir', async (t) => {
  const server = await startTestServer(t);
  const runners = path.join(tempDir(t), 'runners');
  fs.mkdirSync(path.join(runners, 'slot'), { recursive: true });
  // This test process is alive and is no runner: the pid left by a runner long gone, taken since.
  fs.writeFileSync(path.join(runners, 'slot', 'runner.pid'), `${process.pid}\n`);
  const runner = startRunnerProcess(t, server, 'slot', runners);
  await eventually('the runner registered', () => /registered as slot/.test(runner.output()));
  assert.doesNotMatch(runner.output(), /waiting for the runner/);
});

test("the runner image's bundled runner holding a work dir counts as a runner", async (t) => {
  const workdir = path.join(tempDir(t), 'slot');
  // No server answers there: it keeps trying to register, holding its work dir all the while.
  const bundled = spawnChild(t, process.execPath, [path.join(ROOT, 'dist', 'bundle', 'runner.mjs'), '--server', 'http://127.0.0.1:9', '--workdir', workdir], {
    env: { ...process.env, LAZYAF_TOKEN: 'lzreg_x', LAZYAF_SANDBOX: 'off' },
  });
  await eventually('the bundled runner to take its work dir', () => fs.existsSync(path.join(workdir, 'runner.pid')));
  assert.equal(workdirHolder(workdir), bundled.pid);
});
