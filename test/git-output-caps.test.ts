// Git output whose size a job controls is read with a cap: a job's diff with a huge file list,
// a README of hundreds of MB read for an agent's prompt. Before the caps both ended the server.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Assignment, RegisterResponse } from '../src/shared/protocol.js';
import { PROTOCOL_VERSION, RunnerRoutes } from '../src/shared/protocol.js';
import type { Job, JobDiff } from '../src/shared/api.js';
import { api, cli, startTestServer, tempDir, type Target } from './helpers.js';
import { ended, seedRepo, startRunnerProcess, submit, waitForJob } from './queue-helpers.js';

/** 250 characters: the longest name a file system commonly takes, so every path is long. */
const LONG = 'n'.repeat(250);

/**
 * A job's command that commits 4,000 files under 12 nested 250-character directories: a file
 * list of about 14 MB, past the byte cap of a diff's list (the had 160,000 and 564 MB).
 */
const HUGE_PATHS = [
  `deep=$(printf '${LONG}/%.0s' 1 2 3 4 5 6 7 8 9 10 11 12)`,
  `for d in $(seq 1 40); do dir="$deep\${d}${LONG}"; mkdir -p "$dir"; (cd "$dir" && touch $(seq -f '%g${LONG.slice(0, 240)}' 1 100)); done`,
].join('; ');

test("a job's diff with a huge file list is cut at a cap with a marker, and the server stays up", async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  const job = await submit(server, { repo_id: repo.id, title: 'huge paths', command: HUGE_PATHS });
  const done = await waitForJob(server, job.id, ended, 90_000);
  assert.equal(done.status, 'succeeded', done.error ?? '');

  const stat = await api<JobDiff>(server, 'GET', `/api/jobs/${job.id}/diff?stat=true`);
  assert.equal(stat.status, 200, JSON.stringify(stat.body).slice(0, 500));
  assert.equal(stat.body.files_truncated, true);
  const listed = stat.body.files.length;
  // 4 MiB of paths of 3,514 bytes: the byte cap comes before the default of 3,000 files.
  assert.ok(listed > 1000 && listed < 3000, `the list stops at the byte cap: ${listed} files`);
  // Every file listed is whole: a record cut by the cap is dropped, not shown half. Past the
  // byte cap git is not asked to count lines (it would compare every file first).
  assert.ok(
    stat.body.files.every((f) => f.status === 'A' && /^(n{250}\/){12}\d+n{250}\/\d+n{240}$/.test(f.path) && f.added === null && !f.binary),
    'whole records, not counted',
  );
  assert.equal((await api(server, 'GET', '/api/health')).status, 200);

  // A lower cap on the count, and the unified diff beside it says its list is cut too.
  const few = await api<JobDiff>(server, 'GET', `/api/jobs/${job.id}/diff?max_files=50&max_bytes=4096`);
  assert.equal(few.status, 200);
  assert.deepEqual([few.body.files.length, few.body.files_truncated, few.body.truncated], [50, true, true]);
  assert.match(few.body.diff, /\[lazyaf: diff truncated at 4096 bytes; the list of files is cut too\]\n$/);

  // The CLI says so under its list.
  const shown = await cli(['diff', job.id, '--stat'], { server });
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^ A n{250}\/.* {2}not counted$/m);
  assert.match(shown.stdout, /\n \d+ files changed, 0 insertions\(\+\), 0 deletions\(-\) \(the list is cut: the job changed more files\)\n$/);
  assert.equal((await api(server, 'GET', '/api/health')).status, 200);

  // A list cut at its count, far from the byte cap, keeps the counts of the files it shows.
  const many = await submit(server, { repo_id: repo.id, title: 'many files', command: 'for i in $(seq 60); do echo $i > f$i.txt; done' });
  assert.equal((await waitForJob(server, many.id, ended, 90_000)).status, 'succeeded');
  const counted = await api<JobDiff>(server, 'GET', `/api/jobs/${many.id}/diff?stat=true&max_files=50`);
  assert.deepEqual(
    [counted.body.files.length, counted.body.files_truncated, counted.body.added, counted.body.files.every((f) => f.added === 1 && f.removed === 0)],
    [50, true, 50, true],
  );
});

/** Registers a runner by hand that can run `claude`, the way a real one that found it would. */
async function agentRunner(server: Target & { registrationToken: string }): Promise<string> {
  const r = await api<RegisterResponse>(
    server,
    'POST',
    RunnerRoutes.register,
    { name: 'agent-runner', agents: ['claude'], protocol_version: PROTOCOL_VERSION },
    { token: server.registrationToken },
  );
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.token;
}

test('a follow-up agent job on a branch whose README is 600 MB is claimed with the start of it, and the server stays up', async (t) => {
  const dataDir = tempDir(t, 'lazyaf-data-');
  const server = await startTestServer(t, {}, { dataDir });
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  // A sparse file: 600 MB of zeros that cost no disk, and about 600 KB as a pack.
  const job = await submit(server, { repo_id: repo.id, title: 'big readme', command: "printf '# A big readme\\n' > README.md; truncate -s 600M README.md" });
  const done = await waitForJob(server, job.id, ended, 90_000);
  assert.equal(done.status, 'succeeded', done.error ?? '');

  const followup = await api<Job>(server, 'POST', `/api/jobs/${job.id}/followup`, { title: 'summarise it', agent: 'claude' });
  assert.equal(followup.status, 201, JSON.stringify(followup.body));
  const runnerToken = await agentRunner(server);
  const claimed = await api<Assignment>(server, 'POST', RunnerRoutes.poll, { wait_ms: 0 }, { token: runnerToken });
  assert.equal(claimed.status, 200, `${JSON.stringify(claimed.body).slice(0, 300)}\n${server.output()}`);
  assert.equal(claimed.body.job_id, followup.body.id);
  assert.match(claimed.body.prompt, /## The repository's README\n\n# A big readme\n\0/);
  assert.ok(claimed.body.prompt.length < 20_000, `the README is cut: ${claimed.body.prompt.length} characters`);
  assert.equal((await api(server, 'GET', '/api/health')).status, 200);
  assert.equal(server.child.exitCode, null, server.output());
});

test('a client that hangs up while its diff is read leaves no error in the server log', async (t) => {
  const server = await startTestServer(t, {}, { dataDir: tempDir(t, 'lazyaf-data-'), logLevel: 'error' });
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  const job = await submit(server, { repo_id: repo.id, title: 'huge paths', command: HUGE_PATHS });
  assert.equal((await waitForJob(server, job.id, ended, 90_000)).status, 'succeeded');

  // The client leaves while git is at work on the job's 14 MB of paths (its diff takes some 50 ms here).
  for (const query of ['stat=true', 'max_files=3000'])
    for (const ms of [10, 30]) {
      const req = http.get(`${server.url}/api/jobs/${job.id}/diff?${query}`, { headers: { authorization: `Bearer ${server.token}` } });
      req.on('error', () => {});
      await sleep(ms);
      req.destroy();
    }
  const answered = await api<JobDiff>(server, 'GET', `/api/jobs/${job.id}/diff?stat=true`);
  assert.equal(answered.status, 200);
  assert.doesNotMatch(server.output(), /"level":50/, 'no error logged');
});
