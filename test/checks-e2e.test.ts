import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { CHECK_OUTPUT_TAIL_BYTES } from '../src/shared/environment.js';
import type { Job } from '../src/shared/api.js';
import { api, cli, git, startTestServer, tempDir } from './helpers.js';
import { inProcessRunners, logOf, runJob, seedRepo, waitForJob } from './queue-helpers.js';

const ENVIRONMENT = `# The repo's checks, run after every job's command.
env:
  GREETING: hello-from-env
checks:
  greet: 'echo "greeting=$GREETING"; test -f made.txt'
  test: 'i=0; while [ $i -lt 2000 ]; do echo "line $i of a long test run"; i=$((i+1)); done; echo "not ok 1 - adds"; exit 1'
  meddle: 'echo tampered > made.txt && echo covered > coverage.txt && git add -A && git commit -qm meddle && echo meddled'
`;

test("a real runner runs the repo's checks after the command, in its wall: recorded with their output, unable to change the pushed commit, and failing the job only when required", async (t) => {
  const start = inProcessRunners(t);
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo', { 'README.md': '# demo\n', '.lazyaf.yml': ENVIRONMENT });
  start(server, 'r1', { sandbox: 'require' });
  const bare = path.join(server.ctx.reposDir, `${repo.id}.git`);

  const job = await runJob(server, { repo_id: repo.id, title: 'make a file', command: 'echo made > made.txt' });
  assert.equal(job.status, 'succeeded', job.error ?? job.log);
  assert.deepEqual(
    job.checks?.map((c) => [c.name, c.status]),
    [
      ['greet', 'passed'],
      ['test', 'failed'],
      ['meddle', 'passed'],
    ],
  );
  const [greet, failing, meddle] = job.checks!;
  assert.match(greet!.output_tail, /greeting=hello-from-env/, "the repo's env reaches the checks");
  assert.ok(Buffer.byteLength(failing!.output_tail) <= CHECK_OUTPUT_TAIL_BYTES, 'the output is cut to its tail');
  assert.match(failing!.output_tail, /line 1999 of a long test run\nnot ok 1 - adds\n$/);
  assert.doesNotMatch(failing!.output_tail, /line 0 of/);
  assert.match(meddle!.output_tail, /meddled/, 'the meddling check ran to its end');
  assert.ok(job.checks!.every((c) => c.duration_ms >= 0 && c.duration_ms < 60_000));
  // Each check is its own section of the log, with its status and duration.
  assert.match(job.log, /\[lazyaf\] check greet: echo/);
  assert.match(job.log, /\[lazyaf\] check test: failed in \d+\.\d s \(exit code 1\)/);
  assert.match(job.log, /\[lazyaf\] checks: greet passed, test failed, meddle passed/);

  // The branch holds what the command left, not what a check changed or committed afterwards.
  assert.equal(await git(['rev-parse', `refs/heads/${job.branch}`], bare), job.commit);
  assert.equal(await git(['show', `${job.branch}:made.txt`], bare), 'made');
  assert.deepEqual((await git(['ls-tree', '--name-only', job.branch!], bare)).split('\n'), ['.lazyaf.yml', 'README.md', 'made.txt']);

  // A follow-up is a job on the same repo: its checks run too, on its parent's work.
  const asked = await api<Job>(server, 'POST', `/api/jobs/${job.id}/followup`, { title: 'again', command: 'cat made.txt' });
  assert.equal(asked.status, 201, JSON.stringify(asked.body));
  const followup = await waitForJob(server, asked.body.id, undefined, 60_000);
  assert.equal(followup.base_branch, job.branch);
  assert.equal(followup.status, 'succeeded', followup.error ?? '');
  assert.deepEqual(
    followup.checks?.map((c) => c.status),
    ['passed', 'failed', 'passed'],
  );

  // Required: the failing check fails the job, named, though the command succeeded.
  const strict = await runJob(server, { repo_id: repo.id, title: 'strict', command: 'echo made > made.txt', require_checks: true });
  assert.equal(strict.status, 'failed');
  assert.equal(strict.error, 'check test failed');
  assert.equal(strict.exit_code, 0);
  assert.match(await logOf(server, strict.id), /check test failed, and the job requires its checks/);
  // Its attempt says so too, not a bare "succeeded" under a failed job.
  const shown = await cli(['jobs', 'show', strict.id.slice(0, 8)], { server });
  assert.match(shown.stdout, /^ {2}attempt 1: runner \S+ \S+ → \S+ succeeded, but check test failed \(exit 0\)$/m);
});

test("a check is bounded by the job's time left, and a job that timed out runs no check", async (t) => {
  const start = inProcessRunners(t);
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'slow', {
    'README.md': '# slow\n',
    '.lazyaf.yml': 'checks:\n  slow: sleep 60\n  after: echo never-reached-in-time\n',
  });
  start(server, 'r1', { sandbox: 'require' });

  const started = Date.now();
  const job = await runJob(server, { repo_id: repo.id, title: 'quick', command: 'true', timeout_s: 6 });
  assert.ok(Date.now() - started < 30_000, 'the slow check did not hold the job');
  assert.equal(job.status, 'succeeded', job.error ?? job.log);
  assert.deepEqual(
    job.checks?.map((c) => c.status),
    ['error', 'error'],
  );
  assert.match(job.log, /check slow: error in .*\(the job's time ran out\)/);
  assert.match(job.checks![1]!.output_tail, /time ran out before it ran/);

  const late = await runJob(server, { repo_id: repo.id, title: 'too slow', command: 'sleep 30', timeout_s: 2 });
  assert.equal(late.status, 'failed');
  assert.equal(late.end_reason, 'timeout');
  assert.deepEqual(late.checks, []);
  assert.doesNotMatch(late.log, /check slow/);
});

test("a repo's cache paths stay out of the job's commits, its own `git add -A` and the runner's, whatever its .gitignore", async (t) => {
  const start = inProcessRunners(t);
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'), 'cached', {
    'README.md': '# cached\n',
    'deps.txt': 'v1\n',
    '.lazyaf.yml': 'setup: mkdir -p .cache && echo prepared > .cache/stamp\ncache:\n  paths: [.cache]\n  key: [deps.txt]\n',
  });
  start(server, 'r1', { sandbox: 'require' });
  const bare = path.join(server.ctx.reposDir, `${repo.id}.git`);
  const command = 'cat .cache/stamp && echo made > made.txt && git add -A && git commit -qm own && echo more > more.txt';
  for (const title of ['setup runs', 'restored from the cache']) {
    const job = await runJob(server, { repo_id: repo.id, title, command });
    assert.equal(job.status, 'succeeded', job.error ?? job.log);
    assert.match(job.log, /^prepared$/m);
    const tree = (await git(['ls-tree', '-r', '--name-only', job.branch!], bare)).split('\n');
    assert.deepEqual(tree, ['.lazyaf.yml', 'README.md', 'deps.txt', 'made.txt', 'more.txt'], title);
  }
});
