import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { openDb } from '../src/server/db/index.js';
import { FINISHED_JOB_STATUSES } from '../src/shared/job-status.js';
import { nextJobStatus, TransitionError, TRANSITIONS, type JobEvent, type JobStatus } from '../src/server/queue/state.js';
import { JobStore } from '../src/server/store/jobs.js';
import { RepoStore } from '../src/server/store/repos.js';
import type { AttemptEndReason } from '../src/shared/protocol.js';
import { api, startTestServer, tempDir } from './helpers.js';
import { getJob, poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

test('retrying a queued or running job is a 409 that says why, and changes nothing', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const queued = await submit(server, { repo_id: repo.id, title: 'q', command: 'true' });
  const r1 = await api(server, 'POST', `/api/jobs/${queued.id}/retry`);
  assert.equal(r1.status, 409);
  assert.match(r1.body.message, /is queued; only a failed or cancelled job can be retried/);
  assert.equal((await getJob(server, queued.id)).status, 'queued');

  const runner = await registerRunner(server, 'r1');
  const assignment = await poll(server, runner.token);
  assert.equal(assignment?.job_id, queued.id);
  const r2 = await api(server, 'POST', `/api/jobs/${queued.id}/retry`);
  assert.equal(r2.status, 409);
  assert.match(r2.body.message, /is running; only a failed or cancelled job can be retried/);
  const after = await getJob(server, queued.id);
  assert.equal(after.status, 'running');
  assert.equal(after.attempt_count, 1);
});

const STATUSES: JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
const REASONS: AttemptEndReason[] = ['succeeded', 'failed', 'lost', 'timeout', 'cancelled', 'returned'];
const ended = (reason: AttemptEndReason, more: Partial<Extract<JobEvent, { type: 'attempt-ended' }>> = {}): JobEvent => ({
  type: 'attempt-ended',
  reason,
  lostAttempts: 1,
  maxAttempts: 3,
  cancelRequested: false,
  ...more,
});

/** Every event the machine knows, with the status it must lead to from the statuses it is allowed in; refused everywhere else. */
const EXPECTED: { event: JobEvent; from: JobStatus[]; to: JobStatus }[] = [
  { event: { type: 'claim' }, from: ['queued'], to: 'running' },
  { event: { type: 'cancel' }, from: ['queued', 'running'], to: 'cancelled' },
  { event: { type: 'retry' }, from: ['failed', 'cancelled'], to: 'queued' },
  { event: { type: 'no-runner' }, from: ['queued'], to: 'failed' },
  { event: ended('succeeded'), from: ['running'], to: 'succeeded' },
  { event: ended('failed'), from: ['running'], to: 'failed' },
  { event: ended('timeout'), from: ['running'], to: 'failed' },
  { event: ended('cancelled'), from: ['running'], to: 'cancelled' },
  { event: ended('returned'), from: ['running'], to: 'queued' },
  { event: ended('lost'), from: ['running'], to: 'queued' },
  { event: ended('lost', { lostAttempts: 3 }), from: ['running'], to: 'failed' },
  ...REASONS.map((reason) => ({
    event: ended(reason, { cancelRequested: true, lostAttempts: 3 }),
    from: ['running'] as JobStatus[],
    to: 'cancelled' as JobStatus,
  })),
];

test('the state machine allows exactly the expected transitions and refuses every other one with a TransitionError', () => {
  const reached = new Set<string>();
  for (const { event, from, to } of EXPECTED) {
    for (const status of STATUSES) {
      const what = `${JSON.stringify(event)} in ${status}`;
      if (from.includes(status)) {
        assert.equal(nextJobStatus(status, event), to, what);
        assert.ok(TRANSITIONS[status].includes(to), `${what}: ${status} -> ${to} is not in the table`);
        reached.add(`${status}->${to}`);
      } else {
        assert.throws(() => nextJobStatus(status, event), TransitionError, what);
      }
    }
  }
  // Every move in the table is made by some event: the table holds nothing the machine cannot do.
  for (const status of STATUSES) for (const to of TRANSITIONS[status]) assert.ok(reached.has(`${status}->${to}`), `${status} -> ${to} is never made`);
  // Finished (shared/job-status.ts): a status whose only way on is a retry back to the queue.
  assert.deepEqual([...FINISHED_JOB_STATUSES].sort(), STATUSES.filter((s) => TRANSITIONS[s].every((to) => to === 'queued')).sort());
});

test("the store's conditional statements change a job exactly in the statuses where the state machine allows their event", (t) => {
  const db = openDb(path.join(tempDir(t), 'jobs.db'));
  t.after(() => db.close());
  const jobs = new JobStore(db);
  const repo = new RepoStore(db).create({ name: 'r', default_branch: 'main', remote_url: null });
  const now = new Date().toISOString();
  let n = 0;
  /** A job forced into `status`, holding attempt `a1` as a running job would. */
  const jobIn = (status: JobStatus): string => {
    const id = `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
    jobs.insert(
      {
        id,
        repo_id: repo.id,
        title: 't',
        description: '',
        agent: 'shell',
        command: 'true',
        base_branch: 'main',
        branch_name: `lazyaf/${id.slice(-8)}`,
        labels: '[]',
        timeout_s: 60,
        max_attempts: 3,
      },
      now,
    );
    db.prepare("UPDATE jobs SET status = ?, current_attempt_id = 'a1' WHERE id = ?").run(status, id);
    return id;
  };
  const allowed = (status: JobStatus, event: JobEvent) => {
    try {
      nextJobStatus(status, event);
      return true;
    } catch {
      return false;
    }
  };
  const end = (id: string) =>
    jobs.endAttempt({
      id,
      attempt_id: 'a1',
      status: 'failed',
      branch: null,
      commit_sha: null,
      base_commit: null,
      exit_code: 1,
      error: null,
      end_reason: 'failed',
      now,
    });
  for (const status of STATUSES) {
    assert.equal(jobs.claim(jobIn(status), 'a2', 'runner', now) !== undefined, allowed(status, { type: 'claim' }), `claim in ${status}`);
    assert.equal(jobs.retry(jobIn(status), now), allowed(status, { type: 'retry' }), `retry in ${status}`);
    assert.equal(end(jobIn(status)), allowed(status, ended('failed')), `end of an attempt in ${status}`);
    assert.equal(jobs.failNoRunner(jobIn(status), 'no runner', now), allowed(status, { type: 'no-runner' }), `no runner in ${status}`);
    // A cancel is one statement or the other: at once for a queued job, through its attempt for a running one.
    const id = jobIn(status);
    const cancelled = [jobs.cancelQueued(id, now), jobs.requestCancel(id, now)];
    assert.equal(cancelled.filter(Boolean).length, allowed(status, { type: 'cancel' }) ? 1 : 0, `cancel in ${status}`);
  }
});
