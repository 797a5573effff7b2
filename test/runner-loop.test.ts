import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { RunnerOptions } from '../src/runner/runner.js';
import type { RunnerList } from '../src/shared/api.js';
import { api, authUrl, git, startTestServer, tempDir, type TestServer } from './helpers.js';
import { inProcessRunners, seedRepo, submit, waitForJob, type InProcessRunner } from './queue-helpers.js';

// The runner's main loop in-process against a real in-process server (real queue, real git).
// The full multi-process scenarios (SIGKILL, server restarts, many runners) live in e2e-jobs.test.ts.

interface Setup {
  server: TestServer;
  repoId: string;
  cloneUrl: string;
  /** A runner in this process, stopped when the test ends. */
  runner: (name: string, extra?: Partial<RunnerOptions>) => InProcessRunner;
}

async function setup(t: TestContext): Promise<Setup> {
  const start = inProcessRunners(t);
  const server = await startTestServer(t, { LAZYAF_LEASE_TTL: '3' });
  const repo = await seedRepo(server, path.join(tempDir(t), 'local'), 'loop', { 'README.md': 'hello\n' });
  return { server, repoId: repo.id, cloneUrl: repo.clone_url, runner: (name, extra) => start(server, name, extra) };
}

test('a runner takes jobs one after another, fetching into its cache, and leaves when drained', async (t) => {
  const { server, repoId, cloneUrl, runner } = await setup(t);
  const r = runner('loop-1');
  const runnerId = await r.registered;

  const first = await submit(server, { repo_id: repoId, title: 'write a file', command: 'echo "$LAZYAF_JOB_TITLE" > result.txt' });
  const second = await submit(server, { repo_id: repoId, title: 'change nothing', command: 'echo looked' });
  const failing = await submit(server, { repo_id: repoId, title: 'fail', command: 'echo oops >&2; exit 7' });

  const one = await waitForJob(server, first.id);
  assert.equal(one.status, 'succeeded', JSON.stringify(one));
  assert.match(one.commit ?? '', /^[0-9a-f]{40}$/);
  const check = tempDir(t);
  await git(['clone', '-q', '--branch', one.branch!, authUrl(cloneUrl, server.token), check]);
  assert.equal(await git(['show', 'HEAD:result.txt'], check), 'write a file');
  assert.equal(await git(['log', '-1', '--format=%an|%s'], check), 'lazyaf agent|write a file');

  const two = await waitForJob(server, second.id);
  assert.equal(two.status, 'succeeded');
  assert.equal(two.commit, null);
  const three = await waitForJob(server, failing.id);
  assert.equal(three.status, 'failed');
  assert.equal(three.exit_code, 7);

  const short = (id: string) => id.slice(0, 8);
  assert.ok(r.lines.includes(`job ${short(first.id)}: cloning ${cloneUrl}`), r.lines.join('\n'));
  // main did not move: the commit the server names is the one the first job fetched.
  assert.ok(r.lines.includes(`job ${short(second.id)}: using cached repo (at the base commit already)`), r.lines.join('\n'));
  assert.ok(r.lines.includes(`job ${short(failing.id)}: using cached repo (at the base commit already)`));
  assert.ok(!r.lines.join('\n').includes(server.ctx.registrationToken), 'no token in the runner log');

  r.drain();
  await r.done;
  const cache = path.join(r.workdir, 'cache', `${repoId}.git`);
  assert.equal(await git(['for-each-ref', 'refs/heads/lazyaf/'], cache), '', 'the cache keeps no job branches');
  const { runners } = (await api<RunnerList>(server, 'GET', '/api/runners')).body;
  assert.ok(!runners.some((x) => x.id === runnerId), 'deregistered');
});

test('a cancel from the server stops the running command; the runner goes on with the next job', async (t) => {
  const { server, repoId, runner } = await setup(t);
  const r = runner('loop-2');
  const sleepy = await submit(server, { repo_id: repoId, title: 'sleep', command: 'echo sleeping; sleep 1000' });
  await waitForJob(server, sleepy.id, (j) => j.status === 'running' && r.lines.some((l) => l.endsWith('running')));
  assert.equal((await api(server, 'POST', `/api/jobs/${sleepy.id}/cancel`)).status, 200);
  assert.equal((await waitForJob(server, sleepy.id)).status, 'cancelled');

  const next = await submit(server, { repo_id: repoId, title: 'next', command: 'true' });
  assert.equal((await waitForJob(server, next.id)).status, 'succeeded');
  assert.ok(r.lines.includes(`job ${sleepy.id.slice(0, 8)}: cancelled`), r.lines.join('\n'));
});

test('stop() gives the running job back; another runner finishes it on a fresh attempt', async (t) => {
  const { server, repoId, cloneUrl, runner } = await setup(t);
  // The first attempt leaves a mark outside the workspaces and sleeps; the second sees it and finishes.
  const markDir = tempDir(t);
  const mark = path.join(markDir, 'first-attempt-ran');
  const first = runner('loop-3a', { sandboxShare: [markDir] });
  const command = `if [ -e '${mark}' ]; then echo second > attempt.txt; else touch '${mark}'; echo first > attempt.txt; sleep 1000; fi`;
  const job = await submit(server, { repo_id: repoId, title: 'two tries', command });
  await waitForJob(server, job.id, (j) => j.status === 'running' && fs.existsSync(mark));
  await first.stop();
  assert.ok(
    first.lines.some((l) => l.endsWith('given back to the queue')),
    first.lines.join('\n'),
  );
  assert.equal(first.lines.at(-1), 'deregistered');

  runner('loop-3b', { sandboxShare: [markDir] });
  const done = await waitForJob(server, job.id);
  assert.equal(done.status, 'succeeded', JSON.stringify(done));
  assert.deepEqual(
    done.attempts?.map((a) => a.end_reason),
    ['returned', 'succeeded'],
  );
  const check = tempDir(t);
  await git(['clone', '-q', '--branch', done.branch!, authUrl(cloneUrl, server.token), check]);
  assert.equal(await git(['show', 'HEAD:attempt.txt'], check), 'second');
});

test('a runner the server revoked registers again and keeps working', async (t) => {
  const { server, repoId, runner } = await setup(t);
  const r = runner('loop-4');
  const firstId = await r.registered;
  assert.equal((await api(server, 'DELETE', `/api/runners/${firstId}`)).status, 204);
  const job = await submit(server, { repo_id: repoId, title: 'after revoke', command: 'true' });
  const done = await waitForJob(server, job.id);
  assert.equal(done.status, 'succeeded');
  assert.notEqual(r.runnerId, firstId);
  assert.ok(
    r.lines.some((l) => l.includes('registering again')),
    r.lines.join('\n'),
  );
});

test("a NUL in a job's title or description (a README of zeros in its prompt) reaches its command and commit as U+FFFD instead of failing the job", async (t) => {
  const { server, repoId, cloneUrl, runner } = await setup(t);
  runner('nul-1');
  const job = await submit(server, {
    repo_id: repoId,
    title: 'nul\u0000title',
    description: 'a\u0000description',
    command: 'printf "%s|%s" "$LAZYAF_JOB_TITLE" "$LAZYAF_JOB_DESCRIPTION" > env.txt',
  });
  const done = await waitForJob(server, job.id);
  assert.equal(done.status, 'succeeded', done.error ?? '');
  const check = tempDir(t);
  await git(['clone', '-q', '--branch', done.branch!, authUrl(cloneUrl, server.token), check]);
  assert.equal(await git(['show', 'HEAD:env.txt'], check), 'nul\ufffdtitle|a\ufffddescription');
  assert.equal(await git(['log', '-1', '--format=%s'], check), 'nul\ufffdtitle');
  // A command is run by `sh -c`, which cannot take a NUL at all: refused when submitted.
  const refused = await api(server, 'POST', '/api/jobs', { repo_id: repoId, title: 'nul command', command: 'echo a\u0000b' });
  assert.equal(refused.status, 400, JSON.stringify(refused.body));
  assert.match(refused.body.message, /command/);
});
