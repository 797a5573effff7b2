import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Job, LiveEvent } from '../src/shared/api.js';
import { api, CLI, cli, spawnChild, startTestServer, tempDir, waitForOutput } from './helpers.js';
import { getJob, logOf, poll, registerRunner, seedRepo, submit, waitForJob } from './queue-helpers.js';
import { RunnerRoutes } from '../src/shared/protocol.js';

test('submit says why no registered runner can take a job: none registered, no runner with its agent, none with its labels', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const none = await submit(server, { repo_id: repo.id, title: 'nobody', command: 'true' });
  assert.equal(none.no_runner, 'no runner is registered');

  await registerRunner(server, 'aider-box', ['linux'], ['aider']);
  const claude = await submit(server, { repo_id: repo.id, title: 'for claude', agent: 'claude' });
  assert.equal(
    claude.no_runner,
    'no registered runner offers the agent claude (runners offer: aider): install its CLI where a runner finds it (each runner says at start why it skipped an agent), or declare it with --agents',
  );
  const gpu = await submit(server, { repo_id: repo.id, title: 'for a gpu', command: 'true', labels: ['gpu'] });
  assert.equal(gpu.no_runner, 'no registered runner has the labels gpu');
  const shell = await submit(server, { repo_id: repo.id, title: 'anyone', command: 'true', labels: ['linux'] });
  assert.equal(shell.no_runner, null);
  // The single job's view says it too, and stops saying it once a runner that can take the job registers.
  assert.equal((await getJob(server, claude.id)).no_runner, claude.no_runner);
  await registerRunner(server, 'claude-box', [], ['claude']);
  assert.equal((await getJob(server, claude.id)).no_runner, null);
  await registerRunner(server, 'gpu-box', ['gpu']);
  const both = await submit(server, { repo_id: repo.id, title: 'claude on a gpu', agent: 'claude', labels: ['gpu'] });
  assert.equal(both.no_runner, 'no registered runner has both the labels gpu and the agent claude');

  // The CLI prints the id on stdout and the reason as one warning line on stderr.
  const r = await cli(['jobs', 'submit', '--repo', 'demo', '--title', 'gpu again', '--command', 'true', '--labels', 'gpu,cuda'], { server });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^[0-9a-f-]{36}\n$/);
  assert.equal(
    r.stderr,
    `warning: no registered runner has the labels cuda,gpu; job ${r.stdout.trim()} stays queued until a runner that can take it registers\n`,
  );
  // A job some runner can take gets no warning.
  const quiet = await cli(['jobs', 'submit', '--repo', 'demo', '--title', 'fine', '--command', 'true'], { server });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stderr, '');
});

test('LAZYAF_NO_RUNNER_TIMEOUT fails a job no runner can take, with the reason and an event; a job some runner can take is never failed by it', async (t) => {
  const server = await startTestServer(t, { LAZYAF_NO_RUNNER_TIMEOUT: '1', LAZYAF_LEASE_TTL: '2' });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const events: LiveEvent[] = [];
  t.after(server.ctx.events.subscribe((e) => events.push(e)));
  // A runner that never polls: the shell job waits for it, but it could take it.
  const idle = await registerRunner(server, 'shell-only');
  const waiting = await submit(server, { repo_id: repo.id, title: 'takeable', command: 'true' });
  const stranded = await submit(server, { repo_id: repo.id, title: 'for claude', agent: 'claude' });

  const failed = await waitForJob(server, stranded.id);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.end_reason, 'no_runner');
  assert.equal(
    failed.error,
    'no runner can take this job: no registered runner offers the agent claude (runners offer: only shell): install its CLI where a runner finds it (each runner says at start why it skipped an agent), or declare it with --agents',
  );
  assert.equal(failed.attempt_count, 0);
  assert.ok(events.some((e) => e.type === 'job.updated' && e.job_id === stranded.id && e.status === 'failed'));
  assert.match(await logOf(server, stranded.id), /no runner can take this job/);
  // It waited as long as the stranded one, past the timeout, and is still queued for the runner that can take it.
  assert.equal((await getJob(server, waiting.id)).status, 'queued');
  assert.equal((await poll(server, idle.token))?.job_id, waiting.id);
});

test('a job whose runner registers in time is not failed: the no-runner clock stops once a runner could take it', async (t) => {
  const server = await startTestServer(t, { LAZYAF_NO_RUNNER_TIMEOUT: '10', LAZYAF_LEASE_TTL: '2' });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const job = await submit(server, { repo_id: repo.id, title: 'for claude', agent: 'claude' });
  const since = () => server.ctx.db.prepare<[string], { no_runner_since_ms: number | null }>('SELECT no_runner_since_ms FROM jobs WHERE id = ?').get(job.id);
  await waitForJob(server, job.id, () => since()?.no_runner_since_ms != null);
  await registerRunner(server, 'claude-box', [], ['claude']);
  await waitForJob(server, job.id, () => since()?.no_runner_since_ms === null);
  assert.equal((await getJob(server, job.id)).status, 'queued');
});

test('jobs submit --wait says what it waits for, and a job failed for want of a runner ends it with one line', async (t) => {
  const server = await startTestServer(t, { LAZYAF_NO_RUNNER_TIMEOUT: '1', LAZYAF_LEASE_TTL: '2' });
  await seedRepo(server, path.join(tempDir(t), 'src'));
  await registerRunner(server, 'aider-box', [], ['aider']);
  const r = await cli(['jobs', 'submit', '--repo', 'demo', '--title', 'for claude', '--agent', 'claude', '--wait'], { server });
  assert.equal(r.code, 1);
  const lines = r.stderr.trimEnd().split('\n');
  assert.match(lines[0]!, /^Submitted job [0-9a-f-]{36}; following its log$/);
  assert.equal(
    lines[1],
    'Waiting for a runner: no registered runner offers the agent claude (runners offer: aider): install its CLI where a runner finds it (each runner says at start why it skipped an agent), or declare it with --agents',
  );
  assert.match(lines.at(-1)!, /^lazyaf: job [0-9a-f-]{36} failed: no runner can take this job: no registered runner offers the agent claude/);
  assert.equal(lines.filter((l) => / failed/.test(l)).length, 1, 'how it ended is said once');
  const id = /job ([0-9a-f-]{36})/.exec(lines[0]!)![1]!;
  assert.equal((await api<Job>(server, 'GET', `/api/jobs/${id}`)).body.end_reason, 'no_runner');
});

test('jobs submit --wait says once that it waits for a runner when one could take the job but none has yet', async (t) => {
  const server = await startTestServer(t);
  await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'not-polling');
  const child = spawnChild(t, process.execPath, [CLI, 'jobs', 'submit', '--repo', 'demo', '--title', 'waits', '--command', 'true', '--wait'], {
    env: { ...process.env, LAZYAF_SERVER: server.url, LAZYAF_TOKEN: server.token },
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitForOutput(child, /Waiting for a runner to take it: 0 of 1 runners busy\n/);
  const a = (await poll(server, runner.token))!;
  const done = await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'succeeded', exit_code: 0, commit: null }, { token: a.job_token });
  assert.equal(done.status, 200);
  assert.equal(await exited, 0);
  assert.equal(stderr.match(/Waiting for/g)?.length, 1, stderr);
});
