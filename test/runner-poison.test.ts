import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { poolWorkRoot } from '../src/server/pool/launcher.js';
import { api, eventually, startTestServer, tempDir, type Target } from './helpers.js';
import { canRunAsNobody, nobodysDir, startRunnerAsNobody } from './nobody-helpers.js';
import { inProcessRunners, runJob, seedRepo, submit, waitForJob } from './queue-helpers.js';

// A job that closes directories of its checkout (chmod 000 in the work tree or in .git) must not
// break the jobs after it on the same runner, nor a pool slot's next runner. Root may open any
// directory, so the traps bite a runner that is not root: these tests run theirs as `nobody`.
// What no walk can open again (another user's directory, an immutable file) makes the runner
// start a fresh checkout, and the pool a fresh work dir.

async function seed(t: TestContext, server: Target): Promise<string> {
  const name = `poison-${Math.random().toString(16).slice(2, 8)}`;
  return (await seedRepo(server, path.join(tempDir(t), 'src'), name, { 'README.md': 'hello\n', 'src/app.txt': 'app\n' })).id;
}

/** Closes directories of the checkout every way a job can: untracked, tracked, read-only, and inside .git. */
const TRAPS = [
  'mkdir -p junk/deep/deeper && echo x > junk/deep/deeper/f && chmod 000 junk/deep junk',
  'chmod 000 src',
  'mkdir stuck && touch stuck/a && chmod 500 stuck',
  'mkdir -p .git/objects/zz && touch .git/objects/zz/f && chmod 000 .git/objects/zz .git/refs',
  'exit 1',
].join('\n');

test('a job that closes directories of its checkout (chmod 000 in the work tree and in .git) does not break the next job on a runner that is not root', async (t) => {
  if (!canRunAsNobody(t)) return;
  const server = await startTestServer(t);
  const repoId = await seed(t, server);
  const runner = startRunnerAsNobody(t, server, nobodysDir(t), 'nobody-1');
  await eventually('the runner to register', () => /registered as nobody-1/.test(runner.output()) || undefined, 60_000);
  assert.match(runner.output(), /jobs run in a bubblewrap sandbox/);
  // No cgroup nobody may write here: the runner says what holds instead, and what does not.
  assert.match(
    runner.output(),
    /jobs' limits: 1024 processes for the runner's whole user \(uid 65534\), the job's and every other \(RLIMIT_NPROC: .*\); memory NOT limited/,
  );

  const trapped = await runJob(server, { repo_id: repoId, title: 'leave traps', command: TRAPS });
  assert.equal(trapped.status, 'failed', trapped.log);
  for (const n of [1, 2]) {
    const next = await runJob(server, {
      repo_id: repoId,
      title: `after the traps ${n}`,
      command: 'test "$(cat README.md)" = hello && test -f src/app.txt && test ! -e junk && echo more > more.txt',
    });
    assert.equal(next.status, 'succeeded', `${next.error}\n${next.log}\n${runner.output()}`);
    // The runner opened what the job closed and kept its checkout: no fresh one was needed.
    if (n === 1) assert.match(next.log, /the checkout cannot be cleaned \(.*\); opening its directories again/);
    assert.doesNotMatch(next.log, /fresh checkout/);
  }
});

test('an unsandboxed job that closes directories of the repo cache does not break the next job: the cache is cloned again', async (t) => {
  if (!canRunAsNobody(t)) return;
  const server = await startTestServer(t);
  const repoId = await seed(t, server);
  const runner = startRunnerAsNobody(t, server, nobodysDir(t), 'nobody-3', 'off');
  await eventually('the runner to register', () => /registered as nobody-3/.test(runner.output()) || undefined, 60_000);
  const trapped = await runJob(server, {
    repo_id: repoId,
    title: 'close the cache',
    command: 'CACHE=$(dirname "$(cat .git/objects/info/alternates)"); chmod 000 "$CACHE/objects" "$CACHE/refs" && exit 1',
  });
  assert.equal(trapped.status, 'failed', trapped.log);
  const next = await runJob(server, { repo_id: repoId, title: 'after the traps', command: 'test "$(cat README.md)" = hello' });
  assert.equal(next.status, 'succeeded', `${next.error}\n${next.log}\n${runner.output()}`);
  assert.match(next.log, /cached repo .*; cloning again/);
});

test('a checkout the runner cannot clean (a directory it cannot open, planted by another user) is replaced by a fresh one', async (t) => {
  if (!canRunAsNobody(t)) return;
  const server = await startTestServer(t);
  const repoId = await seed(t, server);
  const runner = startRunnerAsNobody(t, server, nobodysDir(t), 'nobody-2');
  await eventually('the runner to register', () => /registered as nobody-2/.test(runner.output()) || undefined, 60_000);
  const first = await runJob(server, { repo_id: repoId, title: 'first', command: 'true' });
  assert.equal(first.status, 'succeeded', first.log);

  // Root's directory, closed: nobody can neither open it nor change its mode.
  const checkout = path.join(runner.workdir, 'work', repoId);
  const planted = path.join(checkout, 'roots');
  fs.mkdirSync(path.join(planted, 'inner'), { recursive: true });
  fs.chmodSync(planted, 0o000);

  const next = await runJob(server, { repo_id: repoId, title: 'after the plant', command: 'test ! -e roots && echo ok > ok.txt' });
  assert.equal(next.status, 'succeeded', `${next.error}\n${next.log}\n${runner.output()}`);
  assert.match(next.log, /starting a fresh checkout/);
});

test('an immutable file in a checkout (which even root cannot remove) gives the next job a fresh checkout', async (t) => {
  const startRunner = inProcessRunners(t);
  const server = await startTestServer(t);
  const repoId = await seed(t, server);
  // A work dir of its own, which only this hook can remove once the file is mutable again (wherever the runner moved it).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lazyaf-immutable-'));
  t.after(() => {
    spawnSync('chattr', ['-R', '-i', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const runner = startRunner(server, 'imm', { workdir: dir });
  const first = await runJob(server, { repo_id: repoId, title: 'first', command: 'true' });
  assert.equal(first.status, 'succeeded', first.log);
  const stuck = path.join(dir, 'work', repoId, '.git', 'stuck');
  fs.writeFileSync(stuck, 'x');
  const chattr = spawnSync('chattr', ['+i', stuck]);
  if (chattr.status !== 0) return t.skip(`no immutable files here: ${chattr.stderr.toString().trim()}`);

  const next = await runJob(server, { repo_id: repoId, title: 'after the immutable file', command: 'echo ok > ok.txt' });
  assert.equal(next.status, 'succeeded', `${next.error}\n${next.log}\n${runner.lines.join('\n')}`);
  assert.match(next.log, /starting a fresh checkout/);
});

test('an ephemeral pool slot whose work dir cannot be removed gets a fresh one, and its next runner takes the next job', async (t) => {
  const server = await startTestServer(t, { LAZYAF_EPHEMERAL: '1' });
  const root = poolWorkRoot(server.dataDir);
  t.after(() => {
    spawnSync('chattr', ['-R', '-i', root]);
    fs.rmSync(root, { recursive: true, force: true });
  });
  const repoId = await seed(t, server);
  // The pool of an in-process server starts once it knows where it listens, as `lazyaf server` does it.
  server.ctx.serverUrl = server.url;
  await server.ctx.pool.start();
  assert.equal((await api(server, 'PUT', '/api/pool', { desired: 1 })).status, 200);
  // The job waits for the test to plant a file in its slot's work dir that no removal can take.
  const first = await submit(server, { repo_id: repoId, title: 'first', command: 'touch started; while [ ! -e go ]; do sleep 0.1; done' });
  const checkout = path.join(root, 'pool-1', 'work', repoId);
  await eventually('the first job to start', () => fs.existsSync(path.join(checkout, 'started')), 60_000);
  const stuck = path.join(root, 'pool-1', 'stuck');
  fs.writeFileSync(stuck, 'x');
  const chattr = spawnSync('chattr', ['+i', stuck]);
  if (chattr.status !== 0) return t.skip(`no immutable files here: ${chattr.stderr.toString().trim()}`);
  fs.writeFileSync(path.join(checkout, 'go'), '');
  assert.equal((await waitForJob(server, first.id, undefined, 60_000)).status, 'succeeded');

  const second = await submit(server, { repo_id: repoId, title: 'second', command: 'true' });
  const done = await waitForJob(server, second.id, undefined, 60_000);
  assert.equal(done.status, 'succeeded', done.error ?? '');
  assert.ok(!fs.existsSync(stuck), 'the slot has a fresh work dir');
  assert.ok(
    fs.readdirSync(root).some((name) => name.startsWith('.discarded-pool-1-')),
    'the old one was moved aside',
  );
});
