import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { CHECK_OUTPUT_TAIL_BYTES } from '../src/shared/environment.js';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { api, cli, startTestServer, tempDir, type TestServer } from './helpers.js';
import { getJob, poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

/** A server with the repo `demo` and one runner driven by hand. */
async function setUp(t: Parameters<typeof startTestServer>[0]) {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r1');
  return { server, repo, runner };
}

async function claim(server: TestServer, runnerToken: string, body: Record<string, unknown>) {
  const job = await submit(server, body);
  const a = await poll(server, runnerToken, 5000);
  assert.ok(a && a.job_id === job.id, 'the runner gets the job');
  return { job, a };
}

const complete = (server: TestServer, a: { attempt_id: string; job_token: string }, body: Record<string, unknown>) =>
  api(server, 'POST', RunnerRoutes.complete(a.attempt_id), body, { token: a.job_token });

test("a runner's report of checks that no repo could declare is refused, and the attempt stays open for a good one", async (t) => {
  const { server, repo, runner } = await setUp(t);
  const { job, a } = await claim(server, runner.token, { repo_id: repo.id, title: 'hostile', command: 'true' });
  const good = { name: 'test', status: 'passed', duration_ms: 12, output_tail: 'ok\n' };
  const hostile: [string, unknown][] = [
    ['too many', Array.from({ length: 21 }, (_, i) => ({ ...good, name: `c${i}` }))],
    ['an output past its cap', [{ ...good, output_tail: 'x'.repeat(CHECK_OUTPUT_TAIL_BYTES * 2 + 1) }]],
    ['a status no check has', [{ ...good, status: 'maybe' }]],
    ['a negative duration', [{ ...good, duration_ms: -1 }]],
    ['a name no file allows', [{ ...good, name: '../../etc' }]],
    ['a name of 10,000 characters', [{ ...good, name: 'a'.repeat(10_000) }]],
    ['an empty name', [{ ...good, name: '' }]],
    ['the same check twice', [good, good]],
    ['an unknown field', [{ ...good, verdict: 'trust me' }]],
    ['not a list', { test: good }],
  ];
  for (const [what, checks] of hostile) {
    const r = await complete(server, a, { outcome: 'succeeded', exit_code: 0, checks });
    assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body).slice(0, 200)}`);
  }
  const setupReports = [{ status: 'skipped', duration_ms: 1 }, { status: 'passed' }, { status: 'passed', duration_ms: 1.5 }];
  for (const setup of setupReports) assert.equal((await complete(server, a, { outcome: 'succeeded', exit_code: 0, setup })).status, 400, JSON.stringify(setup));
  assert.equal((await getJob(server, job.id)).status, 'running', 'nothing refused ended the attempt');

  const done = await complete(server, a, { outcome: 'succeeded', exit_code: 0, setup: { status: 'passed', duration_ms: 900 }, checks: [good] });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  const shown = await getJob(server, job.id);
  assert.equal(shown.status, 'succeeded');
  assert.deepEqual(shown.checks, [good]);
  assert.deepEqual(shown.setup, { status: 'passed', duration_ms: 900 });
  assert.equal(shown.require_checks, false);
});

test('a failing check is recorded and the job still succeeds; with --require-checks it fails naming the check', async (t) => {
  const { server, repo, runner } = await setUp(t);
  const checks = [
    { name: 'lint', status: 'passed', duration_ms: 300, output_tail: 'clean\n' },
    { name: 'test', status: 'failed', duration_ms: 1200, output_tail: 'not ok 1 - adds\n# fail 1\n' },
  ];

  const { job: lenient, a: first } = await claim(server, runner.token, { repo_id: repo.id, title: 'lenient', command: 'true' });
  assert.equal(lenient.require_checks, undefined, 'unsaid at submit: the repo decides at the claim');
  const r1 = await complete(server, first, { outcome: 'succeeded', exit_code: 0, checks });
  assert.equal(r1.body.job_status, 'succeeded');
  const shown = await getJob(server, lenient.id);
  assert.equal(shown.status, 'succeeded');
  assert.equal(shown.error, null);
  assert.deepEqual(shown.checks, checks);

  // Submitted through the CLI: --require-checks.
  const submitted = await cli(['jobs', 'submit', '--repo', 'demo', '--title', 'strict', '--command', 'true', '--require-checks'], { server });
  assert.equal(submitted.code, 0, submitted.stderr);
  const strictId = submitted.stdout.trim();
  const second = await poll(server, runner.token, 5000);
  assert.equal(second?.job_id, strictId);
  const r2 = await complete(server, second!, { outcome: 'succeeded', exit_code: 0, checks });
  assert.equal(r2.body.job_status, 'failed');
  const strict = await getJob(server, strictId);
  assert.equal(strict.require_checks, true);
  assert.equal(strict.status, 'failed');
  assert.equal(strict.error, 'check test failed');
  assert.equal(strict.exit_code, 0, "the command's own exit code stays");
  // The attempt keeps the runner's outcome: the same report resent gets the same answer.
  assert.equal(strict.attempts?.[0]?.end_reason, 'succeeded');
  const resent = await complete(server, second!, { outcome: 'succeeded', exit_code: 0, checks });
  assert.equal(resent.status, 200);
  assert.equal(resent.body.job_status, 'failed');

  // The list shows each job's checks without their output; jobs show prints the failed one's.
  const list = await cli(['jobs', 'list'], { server });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${strictId.slice(0, 8)} +failed +- +test✗ +- +strict$`, 'm'));
  const listed = (await api(server, 'GET', '/api/jobs')).body.jobs as { id: string; checks: { output_tail: string }[] }[];
  assert.deepEqual(
    listed.find((j) => j.id === strictId)?.checks.map((c) => c.output_tail),
    ['', ''],
  );
  const show = await cli(['jobs', 'show', strictId], { server });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^error: +check test failed$/m);
  assert.match(show.stdout, /^checks: +1\/2 passed \(required/m);
  assert.match(show.stdout, /^ {2}lint: passed in 0\.3 s$/m);
  assert.match(show.stdout, /^ {2}test: failed in 1\.2 s\n {4}not ok 1 - adds\n {4}# fail 1$/m);

  // A follow-up is held to the same bar, and a rerun too.
  const followup = await api(server, 'POST', `/api/jobs/${strictId}/followup`, { title: 'again', command: 'true' });
  assert.equal(followup.status, 409, 'the strict job left no commit to follow up');
  const rerun = await api(server, 'POST', `/api/jobs/${strictId}/rerun`);
  assert.equal(rerun.status, 201, JSON.stringify(rerun.body));
  assert.equal(rerun.body.require_checks, true);
});
