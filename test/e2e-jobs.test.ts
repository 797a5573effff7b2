import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { api, eventually, git, run, startTestServer, tempDir } from './helpers.js';
import { ended, logOf, processesMatching, seedRepo, startRunnerProcess, submit, waitForJob } from './queue-helpers.js';

test('twenty jobs over three runners all succeed, each with its own branch and content', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo', { 'README.md': '# demo\n', 'keep.txt': 'base\n' });
  for (const name of ['r1', 'r2', 'r3']) startRunnerProcess(t, server, name, path.join(dir, 'runners'));

  const jobs = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      submit(server, { repo_id: repo.id, title: `job ${i}`, command: `printf '%s\\n' "$LAZYAF_JOB_TITLE" "$LAZYAF_BRANCH" > "out-${i}.txt"` }),
    ),
  );
  const nothing = await submit(server, { repo_id: repo.id, title: 'read only', command: 'cat README.md' });
  const bare = path.join(server.ctx.reposDir, `${repo.id}.git`);
  const runnersUsed = new Set<string>();
  for (const [i, job] of jobs.entries()) {
    const done = await waitForJob(server, job.id, ended, 60_000);
    assert.equal(done.status, 'succeeded', `${done.title}: ${done.error}`);
    assert.equal(done.branch, `lazyaf/${job.id.slice(0, 8)}`);
    assert.equal(await git(['rev-parse', `refs/heads/${done.branch}`], bare), done.commit);
    assert.equal(await git(['show', `${done.branch}:out-${i}.txt`], bare), `job ${i}\n${done.branch}`);
    // The branch starts from main and holds only this job's file.
    assert.equal(await git(['show', `${done.branch}:keep.txt`], bare), 'base');
    const files = (await git(['ls-tree', '--name-only', done.branch!], bare)).split('\n');
    assert.deepEqual(
      files.filter((f) => f.startsWith('out-')),
      [`out-${i}.txt`],
    );
    assert.equal(await git(['log', '-1', '--format=%an|%s', done.branch!], bare), `lazyaf agent|job ${i}`);
    runnersUsed.add(done.attempts![0]!.runner_id);
  }
  const readOnly = await waitForJob(server, nothing.id, ended, 60_000);
  assert.equal(readOnly.status, 'succeeded');
  assert.equal(readOnly.branch, null);
  assert.equal(readOnly.commit, null);
  assert.match(await logOf(server, nothing.id), /# demo/);
  assert.ok(runnersUsed.size >= 2, `jobs spread over the runners (used ${runnersUsed.size})`);
});

test('a failing command ends failed with its exit code and its output in the log', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  const job = await submit(server, { repo_id: repo.id, title: 'boom', command: 'echo about to fail; echo on stderr >&2; exit 3' });
  const done = await waitForJob(server, job.id, ended, 60_000);
  assert.equal(done.status, 'failed');
  assert.equal(done.exit_code, 3);
  assert.equal(done.attempts?.[0]?.end_reason, 'failed');
  const r = await run(process.execPath, ['dist/cli/main.js', 'jobs', 'logs', job.id.slice(0, 8)], {
    env: { ...process.env, LAZYAF_SERVER: server.url, LAZYAF_TOKEN: server.token },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /about to fail/);
  assert.match(r.stdout, /on stderr/);
});

test('cancel stops a running command and its whole process group', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  const marker = String(900000 + Math.floor(Math.random() * 99999));
  const job = await submit(server, { repo_id: repo.id, title: 'sleeper', command: `sleep ${marker} & sleep ${marker}; wait` });
  await eventually('the sleeps to start', async () => processesMatching(`sleep ${marker}`).length >= 2);
  assert.equal((await api(server, 'POST', `/api/jobs/${job.id}/cancel`)).status, 200);
  const done = await waitForJob(server, job.id, ended, 30_000);
  assert.equal(done.status, 'cancelled');
  await eventually('the sleeps to be gone', async () => processesMatching(`sleep ${marker}`).length === 0, 10_000);
});

test('a runner SIGKILLed mid-job: the job is requeued after the lease and finished by another runner', async (t) => {
  const server = await startTestServer(t, { LAZYAF_LEASE_TTL: '2' });
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  const doomed = startRunnerProcess(t, server, 'doomed', path.join(dir, 'runners'));
  const job = await submit(server, {
    repo_id: repo.id,
    title: 'survivor',
    command: 'if [ "$LAZYAF_ATTEMPT_MARK" = "" ] && [ ! -f /tmp/never ]; then sleep 2; fi; echo ok > result.txt',
  });
  await waitForJob(server, job.id, (j) => j.status === 'running');
  doomed.child.kill('SIGKILL');
  startRunnerProcess(t, server, 'rescuer', path.join(dir, 'runners'));
  const done = await waitForJob(server, job.id, ended, 60_000);
  assert.equal(done.status, 'succeeded', done.error ?? '');
  assert.deepEqual(
    done.attempts?.map((a) => a.end_reason),
    ['lost', 'succeeded'],
  );
  assert.notEqual(done.attempts?.[0]?.runner_id, done.attempts?.[1]?.runner_id);
  const bare = path.join(server.ctx.reposDir, `${repo.id}.git`);
  assert.equal(await git(['show', `${done.branch}:result.txt`], bare), 'ok');
});
