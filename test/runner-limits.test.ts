import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { heldLimit, ownGroups } from '../src/runner/cgroups.js';
import { setUpLimits } from '../src/runner/limits.js';
import { resolveRunnerConfig, RunnerConfigError } from '../src/runner/options.js';
import { ConfigError, resolveServerConfig } from '../src/server/config.js';
import type { JobLimits } from '../src/shared/job-limits.js';
import { authUrl, git, startTestServer, tempDir, type TestServer } from './helpers.js';
import { inProcessRunners, runJob, seedRepo, submit, waitForJob, type InProcessRunner } from './queue-helpers.js';

// What a job may use, held by real cgroups and a real bubblewrap: processes, memory, its tmpfs
// mounts and its workspace's disk. The limits here are small, so that each test stays cheap.

const MiB = 1024 ** 2;
const SMALL: JobLimits = { pids: 64, memoryBytes: 128 * MiB, tmpfsBytes: 8 * MiB, diskBytes: 16 * MiB };

/** Whether this machine's cgroups hold a job's processes and memory (CI's do: it runs as root with them writable). */
async function cgroupsWork(t: TestContext): Promise<boolean> {
  const limiter = await setUpLimits(SMALL);
  await limiter.close();
  if (/\(cgroup v[12]/.test(limiter.summary)) return true;
  if (process.env.CI) throw new Error(`jobs cannot be limited here: ${limiter.summary}`);
  t.skip(`no cgroups this process may write here (${limiter.summary})`);
  return false;
}

interface Setup {
  server: TestServer;
  repoId: string;
  cloneUrl: string;
  /** A sandboxed runner in this process whose jobs run under `limits`, stopped when the test ends. */
  runner: (name: string, labels: string[], limits?: JobLimits) => InProcessRunner;
}

async function setup(t: TestContext): Promise<Setup> {
  const start = inProcessRunners(t);
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'local'), 'limits', { 'README.md': 'hello\n' });
  const runner = (name: string, labels: string[], limits = SMALL) => start(server, name, { labels, limits, sandbox: 'require' });
  return { server, repoId: repo.id, cloneUrl: repo.clone_url, runner };
}

/**
 * Forks up to 300 sleeping children and prints how many it got. It forks in a shell of its own,
 * which dies at the first fork refused; the outer shell then reads the count with builtins only.
 */
const BOUNDED_FORKS = `sh -c 'for i in $(seq 300); do sleep 20 & echo $i > count; done' 2>/dev/null; read n < count; echo "forked $n"`;

test('the runner says what its jobs run under; a job forking 300 processes gets no more than its limit and fails with that reason', async (t) => {
  if (!(await cgroupsWork(t))) return;
  const { server, repoId, runner } = await setup(t);
  const r = runner('forks', []);
  await r.registered;
  assert.ok(
    r.lines.includes(
      "jobs' limits: 64 processes and threads, 128 MiB of memory (cgroup v1); 16 MiB of workspace on disk (measured while the job runs) and per file; 8 MiB per tmpfs (/tmp, /var/tmp, /dev/shm)",
    ) || r.lines.some((l) => /^jobs' limits: 64 processes and threads, 128 MiB of memory \(cgroup v2\)/.test(l)),
    r.lines.join('\n'),
  );
  const job = await runJob(server, { repo_id: repoId, title: 'forks', command: BOUNDED_FORKS });
  const forked = Number(/^forked (\d+)$/m.exec(job.log)?.[1]);
  assert.ok(forked > 10 && forked < 64, `forked ${forked}\n${job.log}`);
  assert.equal(job.status, 'failed', job.log);
  assert.equal(job.error, 'the job reached its process limit (64 processes and threads)');
});

test('a fork bomb without end holds only its own limit: a job on another runner and a clone through the server go on meanwhile', async (t) => {
  if (!(await cgroupsWork(t))) return;
  const { server, repoId, cloneUrl, runner } = await setup(t);
  runner('bomber', ['bomb']);
  runner('calm', ['calm']);
  const bomb = await submit(server, {
    repo_id: repoId,
    title: 'bomb',
    command: 'mkfifo wait; b() { b | b & }; b; read x < wait',
    labels: ['bomb'],
    timeout_s: 8,
  });
  await waitForJob(server, bomb.id, (j) => j.status === 'running');
  await new Promise((r) => setTimeout(r, 1000)); // The bomb at its limit.

  const calm = await runJob(server, {
    repo_id: repoId,
    title: 'calm',
    command: 'for i in $(seq 20); do sh -c true; done; echo fine > fine.txt',
    labels: ['calm'],
  });
  assert.equal(calm.status, 'succeeded', calm.log);
  const clone = tempDir(t);
  await git(['clone', '-q', authUrl(cloneUrl, server.token), clone]);
  assert.equal(fs.readFileSync(path.join(clone, 'README.md'), 'utf8'), 'hello\n');
  const bombed = await waitForJob(server, bomb.id, undefined, 60_000);
  assert.equal(bombed.status, 'failed');
  assert.match(bombed.error ?? '', /^timed out after 8 s/);
});

test('a job writing more than its tmpfs holds gets ENOSPC, its HOME (on disk, beside its checkout) stops at the disk cap, and the root and /dev of its sandbox are read-only', async (t) => {
  if (!(await cgroupsWork(t))) return;
  const { server, repoId, runner } = await setup(t);
  runner('tmpfs', []);
  const command = [
    'fill() { e=$(head -c 20000000 /dev/zero 2>&1 > "$2/big"); echo "$1 $(wc -c < "$2/big") $e"; }',
    'fill tmp /tmp; fill home "$HOME"; fill var-tmp /var/tmp; fill shm /dev/shm',
    'for d in / /dev /var; do touch "$d/x" 2>/dev/null && echo "writable $d" || echo "read-only $d"; done',
  ].join('\n');
  const job = await runJob(server, { repo_id: repoId, title: 'fill tmpfs', command });
  assert.equal(job.status, 'succeeded', job.log);
  for (const mount of ['tmp', 'var-tmp', 'shm']) {
    const m = new RegExp(`^${mount} (\\d+) (.*)$`, 'm').exec(job.log);
    assert.ok(m, job.log);
    assert.ok(Number(m[1]) <= 8 * MiB, `${mount} held ${m[1]} bytes`);
    assert.match(m[2]!, /No space left on device/, job.log);
  }
  // The job's HOME is a folder of its own among the job's files (a copy of the agents' config),
  // under the disk cap: no file of it grows past the cap.
  const home = /^home (\d+) (.*)$/m.exec(job.log);
  assert.ok(home, job.log);
  assert.equal(Number(home[1]), SMALL.diskBytes, `home held ${home[1]} bytes`);
  for (const dir of ['/', '/dev', '/var']) assert.match(job.log, new RegExp(`^read-only ${dir}$`, 'm'));
});

test('a job over its memory limit is killed, and its error names the limit', async (t) => {
  if (!(await cgroupsWork(t))) return;
  const { server, repoId, runner } = await setup(t);
  runner('memory', []);
  // tail keeps its last line in memory, and zeros have no line end: it grows to 300 MB.
  const job = await runJob(server, {
    repo_id: repoId,
    title: 'eat memory',
    command: 'head -c 300000000 /dev/zero | tail -n 1 > /dev/null; echo "tail exited $?"',
  });
  assert.equal(job.status, 'failed', job.log);
  assert.equal(job.error, 'the job exceeded its memory limit (128 MiB)');
  assert.match(job.log, /^tail exited 137$/m);
});

test('a job filling its workspace or its HOME past the disk cap is stopped with that reason; no single file grows past it', async (t) => {
  if (!(await cgroupsWork(t))) return;
  const { server, repoId, runner } = await setup(t);
  runner('disk', []);
  const started = Date.now();
  const command = 'head -c 40000000 /dev/zero > big 2>/dev/null; wc -c < big; for i in $(seq 20); do head -c 1000000 /dev/zero > f$i; done; sleep 60';
  const job = await runJob(server, { repo_id: repoId, title: 'fill the disk', command, timeout_s: 120 });
  assert.equal(job.status, 'failed', job.log);
  assert.equal(job.error, 'the job exceeded its disk limit (more than 16 MiB in its workspace)');
  assert.match(job.log, new RegExp(`^${16 * MiB}$`, 'm'), 'the big file stopped at the cap');
  assert.ok(Date.now() - started < 30_000, 'stopped long before its sleep ended');
  assert.equal(job.commit, null, 'what filled the disk is not pushed');

  // Its HOME counts too: many files, each under the cap, in a folder beside its checkout.
  const inHome = 'for i in $(seq 30); do head -c 1000000 /dev/zero > "$HOME/f$i"; done; sleep 60';
  const homeJob = await runJob(server, { repo_id: repoId, title: 'fill its HOME', command: inHome, timeout_s: 120 });
  assert.equal(homeJob.status, 'failed', homeJob.log);
  assert.equal(homeJob.error, 'the job exceeded its disk limit (more than 16 MiB in its workspace)');
});

test('job limits are read and checked alike by the server and the runner: sizes, 0 for none, one line for a bad value', () => {
  const runner = (env: NodeJS.ProcessEnv) => resolveRunnerConfig({ token: 'lzreg_x' }, env).limits;
  const set = { LAZYAF_JOB_PIDS: '200', LAZYAF_JOB_MEMORY: '1.5g', LAZYAF_JOB_TMPFS: '0', LAZYAF_JOB_DISK: '2048m' };
  const expected = { pids: 200, memoryBytes: 1.5 * 1024 ** 3, tmpfsBytes: 0, diskBytes: 2 * 1024 ** 3 };
  assert.deepEqual(runner(set), expected);
  assert.deepEqual(resolveServerConfig({}, set).jobLimits, expected);
  assert.equal(runner({}).pids, 1024);
  for (const [name, value] of [
    ['LAZYAF_JOB_PIDS', '4'],
    ['LAZYAF_JOB_PIDS', 'lots'],
    ['LAZYAF_JOB_PIDS', '-1'],
    ['LAZYAF_JOB_MEMORY', '3x'],
    ['LAZYAF_JOB_MEMORY', '100k'],
    ['LAZYAF_JOB_DISK', '1e9'],
  ] as const) {
    assert.throws(
      () => runner({ [name]: value }),
      (err: Error) => err instanceof RunnerConfigError && err.message.startsWith(`${name} must be`),
      `${name}=${value}`,
    );
    assert.throws(() => resolveServerConfig({}, { [name]: value }), ConfigError);
  }
});

test("a runner finds its own cgroups from /proc: cgroup v2 where it holds the controllers, v1 otherwise, a container's own group at its mount's root", (t) => {
  const dir = tempDir(t);
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  };
  // A systemd machine: cgroup v2 with both controllers for the runner's service.
  write('v2/proc/cgroup', '0::/system.slice/lazyaf.service\n');
  write('v2/proc/mountinfo', `30 24 0:26 / ${dir}/v2/cg rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n`);
  write('v2/cg/system.slice/lazyaf.service/cgroup.controllers', 'cpu io memory pids\n');
  write('v2/cg/system.slice/lazyaf.service/pids.max', 'max\n');
  write('v2/cg/system.slice/lazyaf.service/memory.max', '1073741824\n');
  const v2 = ownGroups(path.join(dir, 'v2/proc'));
  const own = path.join(dir, 'v2/cg/system.slice/lazyaf.service');
  assert.deepEqual(
    v2.sort((a, b) => a.controller.localeCompare(b.controller)),
    [
      { version: 2, controller: 'memory', dir: own },
      { version: 2, controller: 'pids', dir: own },
    ],
  );
  assert.deepEqual(
    v2.map((g) => heldLimit(g)),
    [1024 ** 3, undefined],
  );

  // A Docker container on cgroup v1: each hierarchy mounted from the container's own group; the
  // unified hierarchy holds no controller, and one mount escapes in its path (\040 is a space).
  write('v1/proc/cgroup', '12:pids:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/docker/abc\n0::/docker/abc\n');
  write(
    'v1/proc/mountinfo',
    [
      `40 30 0:35 /docker/abc ${dir}/v1/pids ro,nosuid - cgroup cgroup ro,pids`,
      `41 30 0:36 /docker/abc ${dir}/v1/mem\\040ory ro,nosuid - cgroup cgroup ro,memory`,
      `42 30 0:37 /docker/abc ${dir}/v1/unified ro - cgroup2 cgroup2 rw`,
    ].join('\n'),
  );
  write('v1/unified/cgroup.controllers', '\n');
  write('v1/pids/pids.max', '128\n');
  assert.deepEqual(
    ownGroups(path.join(dir, 'v1/proc')).sort((a, b) => a.controller.localeCompare(b.controller)),
    [
      { version: 1, controller: 'memory', dir: path.join(dir, 'v1/mem ory') },
      { version: 1, controller: 'pids', dir: path.join(dir, 'v1/pids') },
    ],
  );
  assert.equal(heldLimit({ version: 1, controller: 'pids', dir: path.join(dir, 'v1/pids') }), 128);
});
