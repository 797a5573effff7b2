import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Job } from '../src/shared/api.js';
import { api, barePath, branchTip, eventually, git, startTestServer, tempDir, type TestServer } from './helpers.js';
import { logOf, seedRepo, startRunnerProcess, submit, waitForJob, type RunnerProcess } from './queue-helpers.js';

// A job that does not succeed still leaves its work on its branch: real server, real runner
// processes (in the bubblewrap sandbox where it works), real git.

interface Setup {
  server: TestServer;
  repoId: string;
  runner: RunnerProcess;
  bare: string;
}

async function setup(t: TestContext, env: NodeJS.ProcessEnv = {}): Promise<Setup> {
  const server = await startTestServer(t, env);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'keep', { 'README.md': '# keep\n', 'old.txt': 'old\n' });
  const runner = startRunnerProcess(t, server, 'keeper', path.join(dir, 'runners'));
  return { server, repoId: repo.id, runner, bare: barePath(server.dataDir, repo.id) };
}

/** Waits until the job's log holds `text` (the command got that far). */
async function logReaches(server: TestServer, job: Job, text: string): Promise<void> {
  await eventually(`"${text}" in the log of ${job.id}`, async () => (await logOf(server, job.id)).includes(text));
}

test('a failing command that wrote a file: the job fails with its exit code, and its branch holds the file', async (t) => {
  const { server, repoId, runner, bare } = await setup(t);
  const job = await submit(server, { repo_id: repoId, title: 'half done', command: 'echo progress > work.txt; rm old.txt; exit 2' });
  const done = await waitForJob(server, job.id, undefined, 60_000);
  assert.equal(done.status, 'failed', JSON.stringify(done));
  assert.equal(done.exit_code, 2);
  assert.equal(done.attempts?.[0]?.end_reason, 'failed');
  assert.match(done.commit ?? '', /^[0-9a-f]{40}$/);
  assert.equal(done.branch, `lazyaf/${job.id.slice(0, 8)}`);
  assert.equal(await branchTip(bare, done.branch!), done.commit);
  assert.equal(await git(['show', `${done.branch}:work.txt`], bare), 'progress');
  assert.equal((await git(['ls-tree', '--name-only', done.branch!], bare)).split('\n').includes('old.txt'), false);
  // The commit says what it is, for whoever finds it on the branch.
  assert.equal(await git(['log', '-1', '--format=%s%n%n%b', done.branch!], bare), 'half done\n\nlazyaf: what the job left when it failed (exit code 2).');
  const line = `job ${job.id.slice(0, 8)}: failed (exit code 2); its work was pushed to ${done.branch} (commit ${done.commit!.slice(0, 12)})`;
  await eventually('the runner to say where the work went', () => runner.output().includes(line));
});

test('a timed-out job keeps what it wrote, with no exit code', async (t) => {
  const { server, repoId, bare } = await setup(t);
  const job = await submit(server, { repo_id: repoId, title: 'slow', timeout_s: 1, command: 'echo started > slow.txt; sleep 1000' });
  const done = await waitForJob(server, job.id, undefined, 60_000);
  assert.equal(done.status, 'failed', JSON.stringify(done));
  assert.equal(done.attempts?.[0]?.end_reason, 'timeout');
  assert.equal(done.exit_code, null);
  assert.match(done.error ?? '', /^timed out after 1 s/);
  assert.equal(await branchTip(bare, done.branch!), done.commit);
  assert.equal(await git(['show', `${done.branch}:slow.txt`], bare), 'started');
});

test('a cancelled running job: its branch holds what it wrote before the cancel, with no exit code', async (t) => {
  const { server, repoId, runner, bare } = await setup(t);
  const job = await submit(server, { repo_id: repoId, title: 'interrupted', command: 'echo before > cancel.txt; echo ready; sleep 1000' });
  await logReaches(server, job, 'ready');
  assert.equal((await api(server, 'POST', `/api/jobs/${job.id}/cancel`)).status, 200);
  const done = await waitForJob(server, job.id, undefined, 60_000);
  assert.equal(done.status, 'cancelled', JSON.stringify(done));
  assert.equal(done.exit_code, null);
  assert.equal(done.attempts?.[0]?.end_reason, 'cancelled');
  assert.equal(done.attempts?.[0]?.exit_code, null);
  assert.match(done.commit ?? '', /^[0-9a-f]{40}$/);
  assert.equal(await branchTip(bare, done.branch!), done.commit);
  assert.equal(await git(['show', `${done.branch}:cancel.txt`], bare), 'before');
  await eventually('the runner to say it was cancelled and kept the work', () =>
    runner.output().includes(`job ${job.id.slice(0, 8)}: cancelled; its work was pushed to ${done.branch}`),
  );
});

test('work that cannot be kept does not change the outcome: the reason joins the error', async (t) => {
  const { server, repoId } = await setup(t);
  // Without its repository the job's leftovers cannot be committed.
  const job = await submit(server, { repo_id: repoId, title: 'vandal', timeout_s: 1, command: 'rm -rf .git; echo gone > x.txt; sleep 1000' });
  const done = await waitForJob(server, job.id, undefined, 60_000);
  assert.equal(done.status, 'failed', JSON.stringify(done));
  assert.equal(done.attempts?.[0]?.end_reason, 'timeout');
  assert.equal(done.exit_code, null);
  assert.equal(done.commit, null);
  assert.match(done.error ?? '', /^timed out after 1 s; its work could not be pushed: cannot commit the job's changes: /);

  // The runner goes on: the next job gets a fresh repository.
  const next = await submit(server, { repo_id: repoId, title: 'after', command: 'echo fine > after.txt' });
  assert.equal((await waitForJob(server, next.id, undefined, 60_000)).status, 'succeeded');
});

test('a runner whose lease was lost pushes nothing of that attempt', async (t) => {
  const { server, repoId, runner, bare } = await setup(t, { LAZYAF_LEASE_TTL: '2' });
  const job = await submit(server, { repo_id: repoId, title: 'orphaned', command: 'echo mine > lost.txt; echo ready; sleep 1000' });
  await logReaches(server, job, 'ready');
  // Frozen past its lease: the server ends the attempt as lost and puts the job back in the queue.
  runner.child.kill('SIGSTOP');
  t.after(() => runner.child.kill('SIGCONT'));
  await waitForJob(server, job.id, (j) => j.attempts?.[0]?.end_reason === 'lost');
  runner.child.kill('SIGCONT');
  await eventually('the runner to hear its lease is gone', () =>
    runner.output().includes(`job ${job.id.slice(0, 8)}: lease lost; stopped, nothing more reported`),
  );
  // It takes the job again as a new attempt, which runs (and sleeps) like the first.
  const again = await waitForJob(server, job.id, (j) => j.status === 'running' && j.attempts?.length === 2);
  assert.equal(again.status, 'running');
  assert.equal(await branchTip(bare, `lazyaf/${job.id.slice(0, 8)}`), undefined, 'nothing of the lost attempt was pushed');
  assert.doesNotMatch(runner.output(), /its work was pushed/);
  assert.equal((await api(server, 'POST', `/api/jobs/${job.id}/cancel`)).status, 200);
  await waitForJob(server, job.id, undefined, 60_000);
});
