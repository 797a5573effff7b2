import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Job, LiveEvent, Transcript, UsageReport } from '../src/shared/api.js';
import { RunnerRoutes, type Assignment } from '../src/shared/protocol.js';
import type { TranscriptEntry, Usage } from '../src/shared/transcript.js';
import { api, git, startTestServer, tempDir, type TestServer } from './helpers.js';
import { getJob, poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

const SAMPLE: TranscriptEntry[] = [
  { type: 'message', role: 'user', text: 'Fix the bug' },
  { type: 'tool', tool: 'Read', kind: 'read', path: 'src/a.ts', status: 'ok', output: 'export const a = 1;' },
  { type: 'tool', tool: 'Edit', kind: 'file_edit', path: 'src/b.ts', status: 'ok', diff: '--- a/src/b.ts\n+++ b/src/b.ts\n@@ -1 +1 @@\n-x\n+y\n' },
  { type: 'tool', tool: 'Bash', kind: 'command', command: 'npm test', exit_code: 1, status: 'error', output: '1 failing' },
  { type: 'message', role: 'assistant', text: 'Done: the test now passes.' },
  { type: 'result', status: 'ok', text: 'Done.' },
];

const USAGE: Usage = {
  model: 'claude-sonnet-4-5',
  input_tokens: 1200,
  output_tokens: 340,
  cache_read_tokens: 50,
  turns: 4,
  duration_ms: 5100,
  cost_usd: 0.0123,
};

/** A server, a repo and a runner that offers claude: enough to drive the runner protocol by hand. */
async function setUp(t: TestContext): Promise<{ server: TestServer; repoId: string; runnerToken: string }> {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r1', [], ['claude']);
  return { server, repoId: repo.id, runnerToken: runner.token };
}

/** Submits an agent job and claims it: the assignment carries the attempt's job token. */
async function claimAgentJob(server: TestServer, repoId: string, runnerToken: string, extra: Record<string, unknown> = {}): Promise<Assignment> {
  await submit(server, { repo_id: repoId, title: 'agent work', agent: 'claude', ...extra });
  const a = await poll(server, runnerToken);
  assert.ok(a, 'the runner gets the job');
  return a;
}

const send = (server: TestServer, a: Assignment, body: unknown, token = a.job_token) =>
  api(server, 'POST', RunnerRoutes.transcript(a.attempt_id), body, { token });
const transcript = async (server: TestServer, jobId: string, query = ''): Promise<Transcript> => {
  const r = await api<Transcript>(server, 'GET', `/api/jobs/${jobId}/transcript${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
};

test('transcript batches are stored once each, in order with seq, sent live, and the job shows model, usage and entry count', async (t) => {
  const { server, repoId, runnerToken } = await setUp(t);
  const events: LiveEvent[] = [];
  t.after(server.ctx.events.subscribe((e) => events.push(e)));
  const a = await claimAgentJob(server, repoId, runnerToken, { model: 'claude-sonnet-4-5' });

  for (const [seq, entries] of [
    [1, SAMPLE.slice(0, 2)],
    [2, SAMPLE.slice(2, 4)],
    [2, SAMPLE.slice(2, 4)],
    [1, SAMPLE.slice(0, 2)],
    [3, SAMPLE.slice(4)],
  ] as const) {
    const ack = await send(server, a, { seq, entries });
    assert.equal(ack.status, 200, JSON.stringify(ack.body));
  }
  const resent = await send(server, a, { seq: 2, entries: SAMPLE.slice(2, 4) });
  assert.deepEqual(resent.body, { accepted: false, truncated: false }, 'a resent batch is acknowledged and ignored');

  const got = await transcript(server, a.job_id);
  assert.equal(got.attempt, 1);
  assert.equal(got.truncated, false);
  assert.deepEqual(
    got.entries,
    SAMPLE.map((e, i) => ({ ...e, seq: i + 1 })),
    'every entry once, in order, numbered from 1',
  );
  assert.deepEqual(
    (await transcript(server, a.job_id, '?after=4')).entries.map((e) => e.seq),
    [5, 6],
  );
  assert.deepEqual((await transcript(server, a.job_id, '?attempt=1&after=6')).entries, []);
  assert.equal((await api(server, 'GET', `/api/jobs/${a.job_id}/transcript?attempt=2`)).status, 404);

  const live = events.filter((e) => e.type === 'transcript.appended');
  assert.deepEqual(
    live.map((e) => [e.job_id, e.attempt, e.entries.map((x) => x.seq)]),
    [
      [a.job_id, 1, [1, 2]],
      [a.job_id, 1, [3, 4]],
      [a.job_id, 1, [5, 6]],
    ],
  );
  assert.deepEqual(live[1]?.entries[1], { ...SAMPLE[3], seq: 4 }, 'the event carries the entries themselves');

  const done = await api(
    server,
    'POST',
    RunnerRoutes.complete(a.attempt_id),
    { outcome: 'succeeded', exit_code: 0, commit: null, usage: USAGE, session_id: 'sess-123' },
    { token: a.job_token },
  );
  assert.equal(done.status, 200, JSON.stringify(done.body));
  const job = await getJob(server, a.job_id);
  assert.equal(job.exit_code, 0, 'an exit code of 0 stays 0, not null');
  assert.equal(job.model, 'claude-sonnet-4-5');
  assert.deepEqual(job.usage, USAGE);
  assert.equal(job.transcript_entries, 6);
  assert.equal(server.ctx.store.attempts.get(a.attempt_id)?.session_id, 'sess-123');
  const listed = (await api<{ jobs: Job[] }>(server, 'GET', '/api/jobs')).body.jobs.find((j) => j.id === a.job_id);
  assert.deepEqual([listed?.model, listed?.usage, listed?.transcript_entries], ['claude-sonnet-4-5', USAGE, 6], 'the list shows them too');
  // The OpenAPI document describes the new routes.
  const doc = await api(server, 'GET', '/docs/json');
  assert.equal(doc.status, 200);
  for (const route of ['/api/jobs/{id}/transcript', '/api/usage', '/api/runners/attempts/{attempt_id}/transcript']) assert.ok(doc.body.paths[route], route);
  // Once the attempt ended, its token appends nothing.
  assert.equal((await send(server, a, { seq: 4, entries: SAMPLE.slice(0, 1) })).status, 409);
});

test('a transcript past its cap ends with a marker entry and truncated=true', async (t) => {
  const { server, repoId, runnerToken } = await setUp(t);
  const a = await claimAgentJob(server, repoId, runnerToken);
  const batch = Array.from({ length: 200 }, (_, i) => ({ type: 'message' as const, role: 'assistant' as const, text: `step ${i}` }));
  let last: unknown;
  for (let seq = 1; seq <= 101; seq++) last = (await send(server, a, { seq, entries: batch })).body;
  assert.deepEqual(last, { accepted: true, truncated: true }, 'the runner is told it may stop sending');
  const got = await transcript(server, a.job_id);
  assert.equal(got.truncated, true);
  assert.equal(got.entries.length, 20_001, '20,000 entries and the marker');
  assert.deepEqual(
    got.entries.map((e) => e.seq),
    Array.from({ length: 20_001 }, (_, i) => i + 1),
  );
  const marker = got.entries.at(-1);
  assert.equal(marker?.type, 'error');
  assert.match(marker?.text ?? '', /transcript truncated/);
  assert.equal((await getJob(server, a.job_id)).transcript_entries, 20_001);

  // Read a page at a time (as the job page does): `limit` entries after `after`, fewer at the end.
  const page = await transcript(server, a.job_id, '?after=19000&limit=600');
  assert.deepEqual([page.entries.length, page.entries[0]?.seq, page.entries.at(-1)?.seq], [600, 19_001, 19_600]);
  assert.equal(page.truncated, true);
  const tail = await transcript(server, a.job_id, '?after=19600&limit=600');
  assert.deepEqual([tail.entries.length, tail.entries.at(-1)?.seq], [401, 20_001], 'the last page is short');
  for (const bad of ['?limit=0', '?limit=-1', '?limit=x', '?limit=1.5']) {
    const r = await api(server, 'GET', `/api/jobs/${a.job_id}/transcript${bad}`);
    assert.equal(r.status, 400, `${bad}: ${JSON.stringify(r.body)}`);
  }
});

test('hostile batches are 4xx and store nothing; another attempt’s token is refused', async (t) => {
  const { server, repoId, runnerToken } = await setUp(t);
  const a = await claimAgentJob(server, repoId, runnerToken);
  const entry = SAMPLE[1]!;
  const hostile: [string, unknown][] = [
    ['no seq', { entries: [entry] }],
    ['seq 0', { seq: 0, entries: [entry] }],
    ['a string seq', { seq: 'one', entries: [entry] }],
    ['entries not a list', { seq: 1, entries: { type: 'message' } }],
    ['no entries', { seq: 1, entries: [] }],
    ['an unknown type', { seq: 1, entries: [{ type: 'banana' }] }],
    ['an unknown kind', { seq: 1, entries: [{ type: 'tool', kind: 'rm' }] }],
    ['an unknown field', { seq: 1, entries: [{ ...entry, secret_sauce: 1 }] }],
    ['an unknown top-level field', { seq: 1, entries: [entry], extra: true }],
    ['a text of an object', { seq: 1, entries: [{ type: 'message', text: { a: 1 } }] }],
    ['a float exit code', { seq: 1, entries: [{ type: 'tool', exit_code: 1.5 }] }],
    ['a huge text', { seq: 1, entries: [{ type: 'message', text: 'x'.repeat(200_000) }] }],
    ['10,000 entries', { seq: 1, entries: Array.from({ length: 10_000 }, () => ({ type: 'message', text: 'hi' })) }],
    [
      'a body past the limit',
      { seq: 1, entries: Array.from({ length: 200 }, () => ({ type: 'message', text: 'x'.repeat(16_000), output: 'y'.repeat(16_000) })) },
    ],
    ['null', null],
  ];
  for (const [what, body] of hostile) {
    const r = await send(server, a, body);
    assert.ok(r.status >= 400 && r.status < 500, `${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
  }
  for (const raw of ['{"seq": 1, "entries": [', 'not json', '', `{"seq": 1, "entries": [${'['.repeat(100_000)}${']'.repeat(100_000)}]}`]) {
    const r = await api(server, 'POST', RunnerRoutes.transcript(a.attempt_id), raw, { token: a.job_token });
    assert.ok(r.status >= 400 && r.status < 500, `malformed ${JSON.stringify(raw.slice(0, 40))}: ${r.status}`);
  }
  assert.deepEqual((await transcript(server, a.job_id)).entries, [], 'nothing was stored');

  // A second job's attempt: its token writes only its own transcript.
  const b = await claimAgentJob(server, repoId, (await registerRunner(server, 'r2', [], ['claude'])).token);
  assert.equal((await send(server, a, { seq: 1, entries: [entry] }, b.job_token)).status, 401);
  assert.equal((await send(server, a, { seq: 1, entries: [entry] }, runnerToken)).status, 401, 'nor does a runner token');
  assert.equal((await send(server, a, { seq: 1, entries: [entry] }, server.token)).status, 401, 'nor the admin token');
  assert.deepEqual((await transcript(server, a.job_id)).entries, []);
  // And the right token still works after all that.
  assert.equal((await send(server, a, { seq: 1, entries: [entry] })).status, 200);
  assert.equal((await transcript(server, a.job_id)).entries.length, 1);
});

test('a model is for agent jobs; a follow-up by the same agent resumes its conversation unless fresh', async (t) => {
  const { server, repoId, runnerToken } = await setUp(t);
  const shell = await api(server, 'POST', '/api/jobs', { repo_id: repoId, title: 'x', command: 'true', model: 'gpt-5' });
  assert.equal(shell.status, 400);
  assert.match(shell.body.message, /model is for an agent job/);
  assert.equal((await api(server, 'POST', '/api/jobs', { repo_id: repoId, title: 'x', agent: 'claude', model: 'bad model;rm' })).status, 400);
  // A finished agent job with a commit to follow up.
  const a = await claimAgentJob(server, repoId, runnerToken, { model: 'opus' });
  const shellJob = await submit(server, { repo_id: repoId, title: 'x', command: 'true' });
  assert.equal(shellJob.model, null);
  assert.equal(shellJob.usage, null);
  assert.equal(shellJob.transcript_entries, 0);
  assert.deepEqual(await transcript(server, shellJob.id), { job_id: shellJob.id, attempt: null, entries: [], truncated: false });

  const branch = `lazyaf/${a.job_id.slice(0, 8)}`;
  const bare = path.join(server.dataDir, 'repos', `${repoId}.git`);
  const head = (await git(['rev-parse', 'main'], bare)).trim();
  await git(['update-ref', `refs/heads/${branch}`, head], bare);
  await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'succeeded', exit_code: 0, commit: head }, { token: a.job_token });
  const follow = async (body: Record<string, unknown>) => {
    const r = await api<Job>(server, 'POST', `/api/jobs/${a.job_id}/followup`, { title: 'more', ...body });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return server.ctx.store.jobs.get(r.body.id)!;
  };
  const resumed = await follow({ agent: 'claude' });
  assert.deepEqual([resumed.resume_parent, resumed.model], [1, 'opus'], 'same agent: resumes, keeps the model');
  const fresh = await follow({ agent: 'claude', fresh: true, model: 'sonnet' });
  assert.deepEqual([fresh.resume_parent, fresh.model], [0, 'sonnet']);
  const other = await follow({ agent: 'codex' });
  assert.deepEqual([other.resume_parent, other.model], [0, null], 'another agent starts its own conversation');
  const byShell = await follow({ command: 'true' });
  assert.equal(byShell.resume_parent, 0);
});

test('GET /api/usage sums every attempt that reported usage, per repo and per day', async (t) => {
  const { server, repoId, runnerToken } = await setUp(t);
  const other = await seedRepo(server, path.join(tempDir(t), 'other'), 'other');
  const complete = async (a: Assignment, outcome: string, usage: Usage | null) => {
    const r = await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome, exit_code: 0, commit: null, usage }, { token: a.job_token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };
  // Job 1 (demo): its first attempt is given back after spending tokens, its second succeeds.
  const first = await claimAgentJob(server, repoId, runnerToken);
  await complete(first, 'returned', { input_tokens: 100, output_tokens: 10, cost_usd: 0.5 });
  const again = await poll(server, runnerToken);
  assert.equal(again?.job_id, first.job_id);
  await complete(again!, 'succeeded', { input_tokens: 200, output_tokens: 20, cache_read_tokens: 7, cost_usd: 1.25 });
  // Job 2 (other): a codex-like run with tokens and no cost.
  await complete(await claimAgentJob(server, other.id, runnerToken), 'failed', { input_tokens: 1000, output_tokens: 100, turns: 3 });
  // Job 3 (demo): no usage reported at all.
  await complete(await claimAgentJob(server, repoId, runnerToken), 'succeeded', null);
  // The job view shows its last attempt's usage only.
  assert.deepEqual((await getJob(server, first.job_id)).usage, { input_tokens: 200, output_tokens: 20, cache_read_tokens: 7, cost_usd: 1.25 });
  // The first attempt ended on an earlier day (the queue's clock cannot be set from here).
  server.ctx.db.prepare("UPDATE attempts SET ended_at = '2020-01-02T10:00:00.000Z' WHERE id = ?").run(first.attempt_id);
  const today = new Date().toISOString().slice(0, 10);

  const r = await api<UsageReport>(server, 'GET', '/api/usage');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const sum = (jobs: number, input: number, output: number, cacheRead: number, cost: number, withoutCost: number) => ({
    jobs,
    input_tokens: input,
    output_tokens: output,
    cache_read_tokens: cacheRead,
    cache_write_tokens: 0,
    cost_usd: cost,
    jobs_without_cost: withoutCost,
  });
  assert.deepEqual(r.body.total, sum(2, 1300, 130, 7, 1.75, 1));
  assert.deepEqual(r.body.by_repo, [
    { repo_id: repoId, repo_name: 'demo', ...sum(1, 300, 30, 7, 1.75, 0) },
    { repo_id: other.id, repo_name: 'other', ...sum(1, 1000, 100, 0, 0, 1) },
  ]);
  assert.deepEqual(r.body.by_day, [
    { day: today, ...sum(2, 1200, 120, 7, 1.25, 1) },
    { day: '2020-01-02', ...sum(1, 100, 10, 0, 0.5, 0) },
  ]);

  const demoSince = await api<UsageReport>(server, 'GET', `/api/usage?repo=demo&since=${today}`);
  assert.deepEqual(demoSince.body.total, sum(1, 200, 20, 7, 1.25, 0));
  assert.deepEqual((await api<UsageReport>(server, 'GET', '/api/usage?since=2999-01-01')).body.total, sum(0, 0, 0, 0, 0, 0));
  assert.equal((await api(server, 'GET', '/api/usage?repo=nope')).status, 404);
  for (const q of ['since=yesterday', 'since=2024-13-45', 'since=2024-01-01T00:00', 'other=1']) {
    assert.equal((await api(server, 'GET', `/api/usage?${q}`)).status, 400, q);
  }
});

test('a credential value the server holds is redacted from transcript entries before they are stored or sent', async (t) => {
  const key = 'sk-ant-transcript-secret-0123456789';
  const { server, repoId, runnerToken } = await setUp(t);
  assert.equal((await api(server, 'PUT', '/api/secrets/ANTHROPIC_API_KEY', { value: key })).status < 300, true);
  const events: LiveEvent[] = [];
  t.after(server.ctx.events.subscribe((e) => events.push(e)));
  const a = await claimAgentJob(server, repoId, runnerToken);
  const leaky: TranscriptEntry = { type: 'tool', kind: 'command', tool: 'Bash', command: `echo ${key}`, output: `${key}\n`, exit_code: 0 };
  assert.equal((await send(server, a, { seq: 1, entries: [leaky] })).status, 200);
  const stored = JSON.stringify(await transcript(server, a.job_id));
  assert.ok(!stored.includes(key), stored);
  assert.match(stored, /\[redacted\]/);
  assert.ok(!JSON.stringify(events).includes(key), 'nor does the live event carry it');
});
