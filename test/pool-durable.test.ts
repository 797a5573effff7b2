import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Job, PoolState, RunnerList } from '../src/shared/api.js';
import { poolWorkRoot } from '../src/server/pool/launcher.js';
import { api, cli, eventually, startTestServer, tempDir, type ServerProcess } from './helpers.js';
import { logOf, runJob, seedRepo, submit, waitForJob } from './queue-helpers.js';

const allRunners = async (server: ServerProcess) => (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners;
const idlePoolIds = async (server: ServerProcess) =>
  (await allRunners(server))
    .filter((r) => r.status === 'idle')
    .map((r) => r.pool_id)
    .sort();
const workDirs = (root: string) => (fs.existsSync(root) ? fs.readdirSync(root).sort() : []);

function stop(server: ServerProcess, signal: NodeJS.Signals): Promise<void> {
  const exited = new Promise<void>((resolve) => server.child.once('exit', () => resolve()));
  server.child.kill(signal);
  return exited;
}

test('the desired size survives a restart, runners hold slots pool-1..N, and work dirs of other slots are removed', async (t) => {
  const data = path.join(tempDir(t), 'data');
  const root = poolWorkRoot(data);
  fs.mkdirSync(path.join(root, 'pool-9', 'cache'), { recursive: true }); // left by an earlier, bigger pool
  let server = await startTestServer(t, {}, { dataDir: data, runners: 0 });
  assert.equal((await api<PoolState>(server, 'PUT', '/api/pool', { desired: 3 })).status, 200);
  await eventually('three idle pool runners', async () => (await idlePoolIds(server)).length === 3);
  await stop(server, 'SIGTERM');

  // No --runners and no LAZYAF_RUNNERS: the stored size.
  server = await startTestServer(t, {}, { dataDir: data, runners: null });
  assert.equal((await api<PoolState>(server, 'GET', '/api/pool')).body.desired, 3);
  await eventually('the same three slots back', async () => (await idlePoolIds(server)).join() === 'pool-1,pool-2,pool-3');
  assert.deepEqual(workDirs(root), ['pool-1', 'pool-2', 'pool-3']);

  await api(server, 'PUT', '/api/pool', { desired: 1 });
  await eventually('one runner and its work dir left', async () => (await idlePoolIds(server)).join() === 'pool-1' && workDirs(root).join() === 'pool-1');
  await stop(server, 'SIGTERM');
  // A size given at start wins and is kept.
  server = await startTestServer(t, {}, { dataDir: data, runners: 2 });
  await eventually('two runners', async () => (await idlePoolIds(server)).length === 2);
  await stop(server, 'SIGTERM');
  server = await startTestServer(t, {}, { dataDir: data, runners: null });
  assert.equal((await api<PoolState>(server, 'GET', '/api/pool')).body.desired, 2);
});

test('after a SIGKILLed server restarts, its runners take the same slots: warm caches, no ghost rows', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const root = poolWorkRoot(data);
  let server = await startTestServer(t, {}, { dataDir: data, runners: 2 });
  const repo = await seedRepo(server, path.join(dir, 'src'));
  await eventually('both runners idle', async () => (await idlePoolIds(server)).length === 2);
  // Two jobs at once, one on each runner: both slots' caches are warm.
  const before = await Promise.all(['one', 'two'].map((title) => submit(server, { repo_id: repo.id, title, command: 'sleep 1' })));
  const warmed = await Promise.all(before.map((job) => waitForJob(server, job.id)));
  assert.deepEqual(
    warmed.map((j) => j.status),
    ['succeeded', 'succeeded'],
  );
  assert.notEqual(warmed[0]!.runner_id, warmed[1]!.runner_id);
  await eventually('both runners idle again', async () => (await idlePoolIds(server)).length === 2);

  // The runners outlive the server for a moment (they notice, give back and leave).
  await stop(server, 'SIGKILL');
  server = await startTestServer(t, {}, { dataDir: data, runners: null });
  let seen = 'nothing yet';
  await eventually(
    () => `exactly two runners, both idle (${seen})`,
    async () => {
      const listed = await allRunners(server);
      seen = JSON.stringify(listed.map((r) => [r.pool_id, r.status]));
      return listed.length === 2 && (await idlePoolIds(server)).join() === 'pool-1,pool-2';
    },
    60_000,
  );
  assert.deepEqual(workDirs(root), ['pool-1', 'pool-2']);
  for (const title of ['three', 'four']) {
    const job = await runJob(server, { repo_id: repo.id, title, command: 'true' });
    assert.equal(job.status, 'succeeded', job.error ?? '');
    const log = await logOf(server, job.id);
    assert.match(log, /\[lazyaf\] using cached repo/);
    assert.doesNotMatch(log, /\[lazyaf\] cloning /);
  }
});

test('scaling down drains idle runners first and never kills a busy runner job', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const server = await startTestServer(t, {}, { dataDir: data, runners: 2 });
  const repo = await seedRepo(server, path.join(dir, 'src'));
  await eventually('two idle runners', async () => (await idlePoolIds(server)).length === 2);
  const job = await submit(server, { repo_id: repo.id, title: 'slow', command: 'sleep 2; echo done > done.txt' });
  const running = await waitForJob(server, job.id, (j) => j.status === 'running');
  assert.equal((await api<PoolState>(server, 'PUT', '/api/pool', { desired: 1 })).body.desired, 1);
  await eventually('the idle runner left, the busy one stayed', async () => {
    const listed = await allRunners(server);
    return listed.length === 1 && listed[0]!.id === running.runner_id;
  });
  await api(server, 'PUT', '/api/pool', { desired: 0 });
  const done = await waitForJob(server, job.id);
  assert.equal(done.status, 'succeeded', done.error ?? '');
  await eventually('no runner left', async () => (await allRunners(server)).length === 0);
});

test('LAZYAF_EPHEMERAL=1 runs each job in a fresh runner process', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const server = await startTestServer(t, { LAZYAF_EPHEMERAL: '1' }, { dataDir: data, runners: 1 });
  assert.equal((await api<PoolState>(server, 'GET', '/api/pool')).body.ephemeral, true, 'the pool says it is ephemeral');
  const repo = await seedRepo(server, path.join(dir, 'src'));
  const jobs: Job[] = [];
  for (const title of ['one', 'two']) jobs.push(await runJob(server, { repo_id: repo.id, title, command: 'true' }));
  for (const job of jobs) {
    assert.equal(job.status, 'succeeded', job.error ?? '');
    assert.match(await logOf(server, job.id), /\[lazyaf\] cloning /, 'a fresh work dir: no cache from the job before');
  }
  assert.notEqual(jobs[0]!.runner_id, jobs[1]!.runner_id);
  // Not the runner of job two: it shows idle between its report and its leaving.
  const used = new Set(jobs.map((j) => j.runner_id));
  await eventually('a fresh runner waits for the next job', async () => {
    const idle = (await allRunners(server)).filter((r) => r.status === 'idle');
    return idle.length === 1 && idle[0]!.pool_id === 'pool-1' && !used.has(idle[0]!.id);
  });
  assert.equal((await allRunners(server)).length, 1, 'the runners that left are not listed');
});

test('a LAZYAF_EPHEMERAL that is neither 0 nor 1 is one clear line from the server and the runner', async (t) => {
  const data = path.join(tempDir(t), 'data');
  const env = { LAZYAF_EPHEMERAL: 'yes', LAZYAF_TOKEN: 'lzreg_x' };
  for (const args of [
    ['server', '--port', '0', '--data', data],
    ['runner', '--server', 'http://127.0.0.1:9'],
  ]) {
    const r = await cli(args, { env });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /LAZYAF_EPHEMERAL must be 0 or 1, got "yes"/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
