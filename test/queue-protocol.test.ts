import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { RunnerRoutes } from '../src/shared/protocol.js';
import {
  api,
  type ApiResponse,
  authUrl,
  basicAuth,
  commitFiles,
  eventually,
  git,
  ROOT,
  run,
  spawnChild,
  startTestServer,
  tempDir,
  waitForOutput,
} from './helpers.js';
import { getJob, poll, registerRunner, seedRepo, submit, waitForJob } from './queue-helpers.js';

test('a job submitted while a runner long-polls is handed over at once, and completes with logs', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r1');

  const waiting = poll(server, runner.token, 20_000);
  const job = await submit(server, { repo_id: repo.name, title: 'hello', command: 'echo hi' });
  assert.equal(job.status, 'queued');
  const a = await waiting;
  assert.ok(a, 'the waiting poll receives the job');
  assert.equal(a.job_id, job.id);
  assert.equal(a.branch, `lazyaf/${job.id.slice(0, 8)}`);
  assert.equal(a.command, 'echo hi');
  assert.equal((await getJob(server, job.id)).status, 'running');

  // A chunk resent after a network error is stored once.
  for (const seq of [1, 2, 2, 1]) {
    const sent: ApiResponse = await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq, data: `line ${seq}\n` }, { token: a.job_token });
    assert.equal(sent.status, 200);
  }
  const done = await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'succeeded', exit_code: 0, commit: null }, { token: a.job_token });
  assert.equal(done.status, 200);
  assert.equal(done.body.job_status, 'succeeded');
  // The same completion resent is answered the same way.
  assert.equal(
    (await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'succeeded', exit_code: 0, commit: null }, { token: a.job_token })).status,
    200,
  );

  const final = await getJob(server, job.id);
  assert.equal(final.status, 'succeeded');
  assert.equal(final.branch, null, 'a job that changed nothing has no branch');
  assert.equal(final.attempts?.[0]?.end_reason, 'succeeded');
  const logs = await api(server, 'GET', `/api/jobs/${job.id}/logs`);
  const content: string = logs.body.content;
  assert.equal(content.match(/line 1\n/g)?.length, 1);
  assert.equal(content.match(/line 2\n/g)?.length, 1);
  assert.ok(content.indexOf('line 1') < content.indexOf('line 2'));
  assert.equal(logs.body.complete, true);

  // After completion the job token is dead for logs and git.
  assert.equal((await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq: 3, data: 'late\n' }, { token: a.job_token })).status, 409);
});

test('an expired lease requeues the job; the old job token can neither log, push nor complete', async (t) => {
  const server = await startTestServer(t, { LAZYAF_LEASE_TTL: '1' });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const dead = await registerRunner(server, 'dead');
  const alive = await registerRunner(server, 'alive');
  const job = await submit(server, { repo_id: repo.id, title: 'x', command: 'true' });
  const first = await poll(server, dead.token);
  assert.ok(first);

  // The dead runner never heartbeats: after the TTL the job is back in the queue.
  const second = await eventually('requeue', () => poll(server, alive.token, 500));
  assert.equal(second.job_id, job.id);
  assert.equal(second.attempt, 2);
  const mid = await getJob(server, job.id);
  assert.equal(mid.attempts?.[0]?.end_reason, 'lost');

  assert.equal((await api(server, 'POST', RunnerRoutes.logs(first.attempt_id), { seq: 1, data: 'late' }, { token: first.job_token })).status, 409);
  assert.equal(
    (await api(server, 'POST', RunnerRoutes.complete(first.attempt_id), { outcome: 'succeeded', exit_code: 0 }, { token: first.job_token })).status,
    409,
  );
  const gitRefs = await fetch(`${second.clone_url}/info/refs?service=git-receive-pack`, {
    headers: { authorization: basicAuth(first.job_token) },
  });
  assert.equal(gitRefs.status, 401);
  const live = await fetch(`${second.clone_url}/info/refs?service=git-receive-pack`, {
    headers: { authorization: basicAuth(second.job_token) },
  });
  assert.equal(live.status, 200);
  await live.arrayBuffer();
});

test('a job lost more times than its cap fails with the reason', async (t) => {
  const server = await startTestServer(t, { LAZYAF_LEASE_TTL: '1' });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const r = await registerRunner(server, 'flaky');
  const job = await submit(server, { repo_id: repo.id, title: 'x', command: 'true', max_attempts: 2 });
  assert.ok(await poll(server, r.token));
  await eventually('second attempt', () => poll(server, r.token, 500));
  const failed = await waitForJob(server, job.id);
  assert.equal(failed.status, 'failed');
  assert.deepEqual(
    failed.attempts?.map((a) => a.end_reason),
    ['lost', 'lost'],
  );
  assert.match(failed.error ?? '', /lost its runner 2 times/);
});

// The server holds one synchronous SQLite connection, so these polls, sent at once, are claimed
// one after another: the test shows that interleaved claims each get a distinct job and that the
// claim sees what the one before it committed. It cannot show two claims racing inside SQLite;
// the test after it does, with claimers in processes of their own.
test('fifty runners polling at once get twenty jobs between them: each job claimed once, none twice', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runners = await Promise.all(Array.from({ length: 50 }, (_, i) => registerRunner(server, `r${i}`)));
  const jobs = await Promise.all(Array.from({ length: 20 }, (_, i) => submit(server, { repo_id: repo.id, title: `j${i}`, command: 'true' })));
  const got = (await Promise.all(runners.map((r) => poll(server, r.token, 300)))).filter((a) => a !== undefined);
  assert.equal(got.length, 20, 'every job is claimed once');
  assert.deepEqual(new Set(got.map((a) => a.job_id)), new Set(jobs.map((j) => j.id)));
  const status = (await api(server, 'GET', '/api/runners/status')).body;
  assert.equal(status.running_jobs, 20);
  assert.equal(status.queued_jobs, 0);
});

// Here the claims do race: four processes, each with its own connection, claim for their runners
// at one signal. SQLite still lets one writer in at a time (the claim's IMMEDIATE transaction waits
// for the others'), so what this holds is that the claim's transaction and its conditional update
// keep a job to one runner whichever connection gets there first.
test('claimers in processes of their own, each with its own connection to the database, racing for the same jobs never take one twice', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runners = await Promise.all(Array.from({ length: 4 }, (_, i) => registerRunner(server, `p${i}`)));
  // Enough jobs that two claimers overlap: on two cores two of them took all 400 in four runs of four
  // (0, 217, 1, 182), the others kept waiting for the write lock until none was left.
  const jobs = await Promise.all(Array.from({ length: 400 }, (_, i) => submit(server, { repo_id: repo.id, title: `j${i}`, command: 'true' })));
  const claimers = runners.map((r) =>
    spawnChild(t, process.execPath, ['--import', 'tsx', path.join(ROOT, 'test', 'claim-process.ts'), path.join(server.dataDir, 'lazyaf.db'), r.runner_id]),
  );
  await Promise.all(claimers.map((c) => waitForOutput(c, /^ready$/m, 60_000)));
  const results = claimers.map((c) => waitForOutput(c, /^(\[.*\])$/m, 60_000));
  for (const c of claimers) c.kill('SIGUSR2');
  const claimed = (await Promise.all(results)).map((m) => JSON.parse(m[1]!) as string[]);
  t.diagnostic(`jobs claimed by each process: ${claimed.map((c) => c.length).join(', ')}`);
  assert.ok(claimed.filter((c) => c.length > 0).length >= 2, 'at least two claimers took jobs: their claims interleaved');
  const all = claimed.flat();
  assert.equal(all.length, jobs.length, 'every job claimed once, and no more');
  assert.deepEqual(new Set(all), new Set(jobs.map((j) => j.id)));
  const status = (await api(server, 'GET', '/api/runners/status')).body;
  assert.equal(status.running_jobs, jobs.length);
  assert.equal(status.queued_jobs, 0);
});

test('labels route jobs only to runners that have them all', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const plain = await registerRunner(server, 'plain');
  const gpu = await registerRunner(server, 'gpu', ['gpu', 'linux']);
  const job = await submit(server, { repo_id: repo.id, title: 'needs gpu', command: 'true', labels: ['gpu'] });
  assert.equal(await poll(server, plain.token, 100), undefined);
  assert.equal((await poll(server, gpu.token))?.job_id, job.id);
});

test('cancel: a queued job ends at once, a running one too, and its runner is told on heartbeat', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const r = await registerRunner(server, 'r');
  const queued = await submit(server, { repo_id: repo.id, title: 'a', command: 'true' });
  assert.equal((await api(server, 'POST', `/api/jobs/${queued.id}/cancel`)).body.status, 'cancelled');

  const running = await submit(server, { repo_id: repo.id, title: 'b', command: 'sleep 100' });
  const a = await poll(server, r.token);
  assert.equal(a?.job_id, running.id);
  const hb = api(server, 'POST', RunnerRoutes.heartbeat, { status: 'busy', attempts: [a.attempt_id], wait_ms: 60_000 }, { token: r.token });
  await api(server, 'POST', `/api/jobs/${running.id}/cancel`);
  assert.deepEqual((await hb).body.cancel, [a.attempt_id]);
  await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'cancelled', exit_code: null }, { token: a.job_token });
  assert.equal((await getJob(server, running.id)).status, 'cancelled');

  // A finished job can be retried.
  const retried = await api(server, 'POST', `/api/jobs/${running.id}/retry`);
  assert.equal(retried.body.status, 'queued');
});

test('logs beyond the cap are dropped behind a visible marker', async (t) => {
  const server = await startTestServer(t, { LAZYAF_LOG_CAP: '4096' });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const r = await registerRunner(server, 'r');
  const job = await submit(server, { repo_id: repo.id, title: 'noisy', command: 'yes' });
  const a = await poll(server, r.token);
  assert.ok(a);
  let truncated = false;
  for (let seq = 1; seq <= 10 && !truncated; seq++) {
    const ack = await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq, data: 'y\n'.repeat(500) }, { token: a.job_token });
    truncated = ack.body.truncated;
  }
  assert.ok(truncated);
  const j = await getJob(server, job.id);
  assert.ok(j.log_truncated);
  assert.ok(j.log_bytes < 4096 + 200, `stored ${j.log_bytes} bytes`);
  const logs = await api(server, 'GET', `/api/jobs/${job.id}/logs`);
  assert.match(logs.body.content, /\[lazyaf: log truncated at 4096 bytes/);
});

test('malformed protocol messages and wrong tokens get 4xx', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const r = await registerRunner(server, 'r');
  await submit(server, { repo_id: repo.id, title: 'a', command: 'true' });
  const a = await poll(server, r.token);
  assert.ok(a);
  const cases: [string, string, string | undefined, unknown, number][] = [
    ['POST', RunnerRoutes.register, 'wrong', { name: 'x', protocol_version: 1 }, 401],
    ['POST', RunnerRoutes.register, server.ctx.registrationToken, { name: '../../x', protocol_version: 1 }, 400],
    ['POST', RunnerRoutes.register, server.ctx.registrationToken, { name: 'x', protocol_version: 999 }, 400],
    ['POST', RunnerRoutes.register, server.token, { name: 'x', protocol_version: 1 }, 401],
    ['POST', RunnerRoutes.heartbeat, 'wrong', { status: 'idle', attempts: [] }, 401],
    ['POST', RunnerRoutes.heartbeat, r.token, { status: 'sleepy', attempts: [] }, 400],
    ['POST', RunnerRoutes.heartbeat, r.token, '{"status":', 400],
    ['POST', RunnerRoutes.poll, a.job_token, {}, 401],
    ['POST', RunnerRoutes.logs(a.attempt_id), r.token, { seq: 1, data: 'x' }, 401],
    ['POST', RunnerRoutes.logs(a.attempt_id), a.job_token, { seq: 0, data: 'x' }, 400],
    ['POST', RunnerRoutes.logs('other'), a.job_token, { seq: 1, data: 'x' }, 401],
    ['POST', RunnerRoutes.complete(a.attempt_id), a.job_token, { outcome: 'won' }, 400],
    ['POST', RunnerRoutes.complete(a.attempt_id), a.job_token, { outcome: 'succeeded', commit: 'not-a-sha' }, 400],
    ['POST', RunnerRoutes.complete(a.attempt_id), a.job_token, { outcome: 'succeeded', commit: 'a'.repeat(40) }, 422],
    ['POST', '/api/jobs', server.token, { repo_id: repo.id, title: 'x' }, 400],
    ['POST', '/api/jobs', server.token, { repo_id: repo.id, title: 'x', command: 'true', base_branch: 'nope' }, 400],
    ['POST', '/api/jobs', server.token, { repo_id: repo.id, title: 'x', agent: 'nobody' }, 400],
    ['POST', '/api/jobs', server.token, { repo_id: 'missing', title: 'x', command: 'true' }, 404],
    ['POST', '/api/jobs', r.token, { repo_id: repo.id, title: 'x', command: 'true' }, 401],
    ['GET', '/api/jobs/../../etc', server.token, undefined, 404],
  ];
  for (const [method, p, token, body, expected] of cases) {
    const res = await api(server, method, p, body, { token: token ?? null });
    assert.equal(res.status, expected, `${method} ${p} ${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(typeof (res.body as { message?: unknown }).message, 'string');
  }
  assert.equal((await api(server, 'GET', '/api/health', undefined, { token: null })).status, 200);
});

test('an agent is looked up by its own name only: "constructor" is an unknown agent, refused with the known ones', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const res = await api(server, 'POST', '/api/jobs', { repo_id: repo.id, title: 'x', agent: 'constructor' });
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.match(res.body.message, /unknown agent "constructor"; known: shell, claude, gemini, codex, aider/);
  assert.equal((await api(server, 'GET', '/api/jobs')).body.total, 0);
});

test('a job token fetches its repo and pushes its own branch only; no other branch, no other repo', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  const other = await seedRepo(server, path.join(dir, 'other'), 'other');
  const r = await registerRunner(server, 'r');
  await submit(server, { repo_id: repo.id, title: 'a', command: 'true' });
  const a = await poll(server, r.token);
  assert.ok(a);
  const work = path.join(dir, 'work');
  await git(['clone', '-q', authUrl(a.clone_url, a.job_token), work]);
  await commitFiles(work, { 'new.txt': 'job work\n' }, 'job work');
  const push = (ref: string) => run('git', ['push', authUrl(a.clone_url, a.job_token), `HEAD:${ref}`], { cwd: work });

  assert.equal((await push(`refs/heads/${a.branch}`)).code, 0);
  const toMain = await push('refs/heads/main');
  assert.notEqual(toMain.code, 0);
  assert.match(toMain.stderr, /may push only refs\/heads\/lazyaf\//);
  assert.notEqual((await push('refs/heads/lazyaf/00000000')).code, 0);
  const bare = path.join(server.ctx.reposDir, `${repo.id}.git`);
  assert.equal(await git(['rev-parse', '--verify', '--quiet', 'refs/heads/lazyaf/00000000'], bare).catch(() => 'absent'), 'absent');

  const otherRepo = await fetch(`${other.clone_url}/info/refs?service=git-upload-pack`, {
    headers: { authorization: basicAuth(a.job_token) },
  });
  assert.equal(otherRepo.status, 403);
  await otherRepo.arrayBuffer();
});

test("a runner never says it is offline nor reports an attempt lost: those are the server's words", async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r1');
  const heartbeat = await api(server, 'POST', RunnerRoutes.heartbeat, { status: 'offline', attempts: [] }, { token: runner.token });
  assert.equal(heartbeat.status, 400);
  await submit(server, { repo_id: repo.id, title: 'x', command: 'true' });
  const a = await poll(server, runner.token);
  assert.ok(a);
  const lost = await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'lost', exit_code: null, commit: null }, { token: a.job_token });
  assert.equal(lost.status, 400);
  assert.equal((await getJob(server, a.job_id)).status, 'running');
});
