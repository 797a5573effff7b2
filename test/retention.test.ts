import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Job } from '../src/shared/api.js';
import { pruneOldLogs } from '../src/server/retention.js';
import { RetentionStore } from '../src/server/store/retention.js';
import { TranscriptStore } from '../src/server/store/transcripts.js';
import { api, authUrl, cli, eventually, git, startTestServer, tempDir } from './helpers.js';
import { inProcessRunners, runJob, seedRepo } from './queue-helpers.js';

// `jobs logs` runs the built CLI (`npx tsc -p tsconfig.build.json` first).

const DAY_MS = 24 * 3600_000;
/** About 3 MB of log: enough pages that their return to the file system shows. */
const BIG_LOG = `yes 'a line of the log, long enough to weigh something' | head -c 3000000; echo done > out.txt; git add out.txt; git commit -qm out`;

test("retention prunes a finished job's log and transcript; the job, its sizes and its branch stay; the file shrinks", async (t) => {
  const runners = inProcessRunners(t);
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'), 'demo');
  runners(server, 'r1');
  const job = await runJob(server, { repo_id: repo.id, title: 'big', command: BIG_LOG });
  assert.equal(job.status, 'succeeded');
  assert.ok(job.log_bytes > 2_500_000);
  const { db } = server.ctx;
  // A transcript on its attempt, as an agent's runner sends one.
  const attempt = db.prepare<[string], { id: string }>('SELECT id FROM attempts WHERE job_id = ?').get(job.id)!;
  new TranscriptStore(db).insert(attempt.id, 1, JSON.stringify({ kind: 'text', text: 'hello' }));

  const entries = () => (db.prepare('SELECT COUNT(*) AS n FROM transcript_entries WHERE attempt_id = ?').get(attempt.id) as { n: number }).n;
  assert.equal(entries(), 1);
  const store = new RetentionStore(db);
  // Not old enough yet.
  assert.equal(await pruneOldLogs(store, 1), 0);
  assert.equal((await api<Job>(server, 'GET', `/api/jobs/${job.id}`)).body.log_pruned_at, null);

  assert.equal(db.pragma('auto_vacuum', { simple: true }), 2, 'a new database is made with incremental auto-vacuum');
  const pagesBefore = db.pragma('page_count', { simple: true }) as number;
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  assert.equal(await pruneOldLogs(store, 1, Date.now() + 2 * DAY_MS), 1);
  const pagesAfter = db.pragma('page_count', { simple: true }) as number;
  assert.ok((pagesBefore - pagesAfter) * pageSize > 2_000_000, `the freed pages go back: ${pagesBefore} → ${pagesAfter} pages`);

  const after = (await api<Job>(server, 'GET', `/api/jobs/${job.id}`)).body;
  assert.equal(after.status, 'succeeded');
  assert.equal(after.log_bytes, job.log_bytes, 'the size it had stays');
  assert.match(after.log_pruned_at ?? '', /^\d{4}-\d\d-\d\dT/);
  const logs = (await api(server, 'GET', `/api/jobs/${job.id}/logs`)).body;
  assert.deepEqual([logs.content, logs.pruned, logs.complete], ['', true, true]);
  // A followed pruned log ends at once rather than waiting for bytes that are gone.
  const followed = await fetch(`${server.url}/api/jobs/${job.id}/logs?follow=true`, {
    headers: { authorization: `Bearer ${server.token}` },
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(await followed.text(), '');
  const transcript = (await api(server, 'GET', `/api/jobs/${job.id}/transcript`)).body;
  assert.deepEqual(transcript.entries, []);
  assert.equal(entries(), 0);
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM log_chunks WHERE job_id = ?').get(job.id) as { n: number }).n, 0);

  // The branch and its commit stay.
  const remote = await git(['ls-remote', authUrl(repo.clone_url, server.token), job.branch!]);
  assert.match(remote, new RegExp(`^${job.commit}\\s`));
  // The CLI says why it prints nothing.
  for (const args of [[], ['--follow'], ['--raw']]) {
    const r = await cli(['jobs', 'logs', job.id, ...args], { server });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /its log and transcript were pruned on \d{4}-\d\d-\d\d \(LAZYAF_RETENTION_DAYS\)/);
  }
  // A second sweep finds nothing more.
  assert.equal(await pruneOldLogs(store, 1, Date.now() + 2 * DAY_MS), 0);
});

test('the server sweeps by itself when LAZYAF_RETENTION_DAYS is set, and not otherwise', async (t) => {
  const runners = inProcessRunners(t);
  // About 1.7 s: the sweep looks every tenth of that.
  const server = await startTestServer(t, { LAZYAF_RETENTION_DAYS: '0.00002' });
  const keeper = await startTestServer(t);
  for (const s of [server, keeper]) {
    const repo = await seedRepo(s, path.join(tempDir(t), `src-${s.url.split(':').pop()}`), 'demo');
    runners(s, `r-${s.url.split(':').pop()}`);
    const job = await runJob(s, { repo_id: repo.id, title: 'echo', command: 'echo kept for now' });
    assert.equal(job.status, 'succeeded');
  }
  const jobOf = async (s: typeof server) => (await api<{ jobs: Job[] }>(s, 'GET', '/api/jobs')).body.jobs[0]!;
  const pruned = await eventually('the sweep prunes the job', async () => (await jobOf(server)).log_pruned_at, 20_000);
  assert.ok(pruned);
  // The other server, without retention, kept its log all that time.
  const kept = await jobOf(keeper);
  assert.equal(kept.log_pruned_at, null);
  assert.match((await api(keeper, 'GET', `/api/jobs/${kept.id}/logs`)).body.content, /kept for now/);
});
