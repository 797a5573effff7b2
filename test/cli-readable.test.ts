import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Job } from '../src/shared/api.js';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { api, assertCliFailure, cli, startTestServer, tempDir } from './helpers.js';
import { poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

test('lazyaf runners lists shell and then the agents of every runner, as the web UI does', async (t) => {
  const server = await startTestServer(t);
  await registerRunner(server, 'plain');
  await registerRunner(server, 'agents', ['gpu'], ['claude', 'codex']);
  const r = await cli(['runners'], { server });
  assert.equal(r.code, 0, r.stderr);
  // NAME STATUS JOB SANDBOX AGENTS LABELS
  assert.match(r.stdout, /^plain\s+\S+\s+-\s+\S+\s+shell\s+-\s/m);
  assert.match(r.stdout, /^agents\s+\S+\s+-\s+\S+\s+shell,claude,codex\s+gpu\s/m);
});

test('an unauthorized answer says where the token came from, or which file was tried', async (t) => {
  const server = await startTestServer(t);
  const data = tempDir(t);
  const file = path.join(data, 'admin_token');
  const list = (env: NodeJS.ProcessEnv, args: string[] = []) =>
    cli(['list', ...args], { env: { LAZYAF_SERVER: server.url, LAZYAF_TOKEN: '', LAZYAF_DATA: data, ...env } });
  const quoted = file.replace(/[.]/g, '\\.');

  assertCliFailure(
    await list({}),
    new RegExp(
      `^lazyaf: unauthorized: missing bearer token .* — no token was sent \\(no --token, no LAZYAF_TOKEN, and ${quoted}: no such file\\); pass --token or set LAZYAF_TOKEN .*LAZYAF_DATA`,
    ),
    'no token anywhere',
  );
  assertCliFailure(
    await list({ LAZYAF_TOKEN: 'wrong' }),
    /^lazyaf: unauthorized: invalid token — the token from LAZYAF_TOKEN was refused/,
    'a wrong LAZYAF_TOKEN',
  );
  assertCliFailure(await list({}, ['--token', 'wrong']), /^lazyaf: unauthorized: invalid token — the token from --token was refused/, 'a wrong --token');
  fs.writeFileSync(file, 'lzadm_another_servers_token\n');
  assertCliFailure(
    await list({}),
    new RegExp(`^lazyaf: unauthorized: invalid token — the token read from ${quoted} was refused .*set LAZYAF_DATA to its data dir$`),
    "another server's token file",
  );
  fs.writeFileSync(file, `${server.token}\n`);
  assert.equal((await list({})).code, 0, 'the right file is all it takes');
});

test('jobs show names the repo and the runners and shortens job ids; --json keeps the ids', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'named-runner');
  const job = await submit(server, { repo_id: repo.id, title: 'work', command: 'echo hi' });
  const a = (await poll(server, runner.token))!;
  assert.equal((await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq: 1, data: 'hi\n' }, { token: a.job_token })).status, 200);
  assert.equal((await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'succeeded', exit_code: 0 }, { token: a.job_token })).status, 200);

  const show = await cli(['jobs', 'show', job.id], { server });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(`^id: +${job.id.slice(0, 8)}$`, 'm'));
  assert.match(show.stdout, /^repo: +demo$/m);
  assert.match(show.stdout, /^runner: +named-runner$/m);
  const json = JSON.parse((await cli(['jobs', 'show', job.id, '--json'], { server })).stdout) as Job;
  assert.equal(json.id, job.id);
  const [attempt] = json.attempts ?? [];
  assert.ok(attempt);
  // An attempt names the runner it had; one recorded without the name, by its short id.
  assert.match(show.stdout, new RegExp(`^ {2}attempt 1: runner ${attempt.runner_name ?? attempt.runner_id.slice(0, 8)} `, 'm'));
  for (const id of [job.id, repo.id, runner.runner_id]) assert.ok(!show.stdout.includes(id), `no full id (${id}) in:\n${show.stdout}`);

  // A job with a log prints it and nothing else.
  const logs = await cli(['jobs', 'logs', job.id], { server });
  assert.match(logs.stdout, /^hi$/m);
  assert.equal(logs.stderr, '');
});

test('jobs show counts attempts in all and since the last retry, and says the max is for lost runners', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r');
  const job = await submit(server, { repo_id: repo.id, title: 'fails', command: 'exit 3', max_attempts: 3 });
  const fail = async () => {
    const a = (await poll(server, runner.token))!;
    const done = await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'failed', exit_code: 3 }, { token: a.job_token });
    assert.equal(done.status, 200);
  };
  await fail();
  const once = await cli(['jobs', 'show', job.id], { server });
  assert.match(once.stdout, /^attempts: +1 \(up to 3 in a run when runners are lost\)$/m);
  assert.equal((await api(server, 'POST', `/api/jobs/${job.id}/retry`)).status, 200);
  await fail();
  const twice = await cli(['jobs', 'show', job.id], { server });
  // A retry starts a new run; the max is not a count of tries a failing command gets.
  assert.match(twice.stdout, /^attempts: +2 in all, 1 since the last retry \(up to 3 in a run when runners are lost\)$/m);
});

test('jobs logs of a job with no log says why on stderr: queued, or cancelled before it ran', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const waiting = await submit(server, { repo_id: repo.id, title: 'waits', command: 'true', labels: ['nobody-has-this'] });
  const queued = await cli(['jobs', 'logs', waiting.id], { server });
  assert.equal(queued.code, 0, queued.stderr);
  assert.equal(queued.stdout, '');
  assert.equal(queued.stderr, `job ${waiting.id.slice(0, 8)} is queued: no log yet\n`);

  const agent = await submit(server, { repo_id: repo.id, title: 'agent waits', agent: 'claude', labels: ['nobody-has-this'] });
  for (const job of [waiting, agent]) assert.equal((await api(server, 'POST', `/api/jobs/${job.id}/cancel`)).status, 200);
  for (const [job, args, what] of [
    [waiting, [], 'log'],
    [waiting, ['-f'], 'log'],
    [waiting, ['--raw'], 'log'],
    [agent, [], 'log'],
    [agent, ['-f'], 'transcript'],
    [agent, ['--json'], 'transcript'],
  ] as const) {
    const r = await cli(['jobs', 'logs', job.id, ...args], { server });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '', `jobs logs ${args.join(' ')}`);
    assert.equal(r.stderr, `job ${job.id.slice(0, 8)} cancelled before it ran: it has no ${what}\n`, `jobs logs ${args.join(' ')}`);
  }
});
