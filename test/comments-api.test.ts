// Review comments through the API and the CLI, against a real server, a real runner process and
// the bare repo: where a comment may go (hostile paths and lines refused in words), resolve and
// delete, the send that starts one follow-up whose prompt holds the comments with their code, and
// which comments that follow-up's diff touched (also when it finished just before a crash). The
// agent is a template from agents.json (a shell command that edits by the book);
// test/comments-agent.test.ts runs Claude Code.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Comment, CommentList, Job, LiveEvent } from '../src/shared/api.js';
import Database from 'better-sqlite3';
import { loadAgents } from '../src/server/queue/agents.js';
import { api, cli, eventually, git, startTestServer, tempDir, type TestServer } from './helpers.js';
import { runJob, seedRepo, startRunnerProcess, submit, waitForJob } from './queue-helpers.js';

const APP = Array.from({ length: 40 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';

/**
 * The agent `editor`: as a follow-up of review comments (its prompt says so) it keeps its prompt in
 * prompt.txt and changes lines 1, 12 and 39 of app.txt; otherwise it changes line 10, deletes line 3
 * and adds new.txt.
 */
const EDITOR = [
  'if grep -q "A person reviewed the diff" "$LAZYAF_PROMPT_FILE"; then',
  '  cp "$LAZYAF_PROMPT_FILE" prompt.txt && sed -i -e "s/^line 1$/LINE ONE/" -e "s/^line 12$/LINE TWELVE/" -e "s/^line 39$/LINE 39/" app.txt;',
  'else',
  '  sed -i -e "s/^line 10$/LINE TEN/" -e "/^line 3$/d" app.txt && echo new > new.txt;',
  'fi',
].join('\n');

interface Stack {
  server: TestServer;
  repoId: string;
  bare: string;
  events: LiveEvent[];
}

async function stack(t: Parameters<typeof startTestServer>[0]): Promise<Stack> {
  const server = await startTestServer(t);
  // As <data>/agents.json adds a template agent at the server's start.
  fs.writeFileSync(path.join(server.dataDir, 'agents.json'), JSON.stringify({ editor: EDITOR }));
  server.ctx.agents = loadAgents(server.dataDir);
  const events: LiveEvent[] = [];
  t.after(server.ctx.events.subscribe((e) => events.push(e)));
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo', { 'README.md': '# demo\n', 'app.txt': APP });
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'), ['--agents', 'editor']);
  return { server, repoId: repo.id, bare: path.join(server.ctx.reposDir, `${repo.id}.git`), events };
}

const comment = (s: Stack, jobId: string, body: unknown) => api<Comment & { message: string }>(s.server, 'POST', `/api/jobs/${jobId}/comments`, body);
const list = async (s: Stack, jobId: string, query = '') => (await api<CommentList>(s.server, 'GET', `/api/jobs/${jobId}/comments${query}`)).body;

test('comments go only where the diff has the line; hostile bodies and ids are refused in words; resolve, delete and the live event', async (t) => {
  const s = await stack(t);
  const job = await runJob(s.server, { repo_id: s.repoId, title: 'edit', agent: 'editor' });
  assert.equal(job.status, 'succeeded', job.log);

  const ok = await comment(s, job.id, { path: 'app.txt', line: 9, body: 'Name this constant.' });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  assert.equal(ok.body.side, 'new', 'the new side by default');
  assert.deepEqual(
    {
      path: ok.body.path,
      line: ok.body.line,
      job_id: ok.body.job_id,
      resolved_at: ok.body.resolved_at,
      sent: ok.body.sent_in_job_id,
      touched: ok.body.touched_by_job_id,
    },
    { path: 'app.txt', line: 9, job_id: job.id, resolved_at: null, sent: null, touched: null },
  );
  assert.ok(s.events.some((e) => e.type === 'comments.changed' && e.job_id === job.id));
  // The old side: the deleted line 3 is there, and the last line of the base.
  assert.equal((await comment(s, job.id, { path: 'app.txt', line: 3, side: 'old', body: 'Why delete this?' })).status, 201);
  assert.equal((await comment(s, job.id, { path: 'app.txt', line: 40, side: 'old', body: 'End.' })).status, 201);

  const refusals: [unknown, number, RegExp][] = [
    [{ path: 'app.txt', line: 40, body: 'x' }, 422, /line 40 is past the end of "app\.txt" on the new side: it has 39 lines/],
    [{ path: 'app.txt', line: 41, side: 'old', body: 'x' }, 422, /past the end of "app\.txt" on the old side: it has 40 lines/],
    [{ path: 'README.md', line: 1, body: 'x' }, 422, /"README\.md" is not a file of job \w{8}'s diff/],
    [{ path: 'new.txt', line: 1, side: 'old', body: 'x' }, 422, /added "new\.txt": it has no old side/],
    [{ path: '../app.txt', line: 1, body: 'x' }, 422, /no empty, "\." or "\.\." part/],
    [{ path: 'a/../app.txt', line: 1, body: 'x' }, 422, /no empty, "\." or "\.\." part/],
    [{ path: '/etc/passwd', line: 1, body: 'x' }, 422, /no empty/],
    [{ path: 'app.txt\u0000', line: 1, body: 'x' }, 400, /path/],
    [{ path: 'a'.repeat(5000), line: 1, body: 'x' }, 400, /path/],
    [{ path: 'app.txt', line: 1, body: 'x'.repeat(20_001) }, 400, /body/],
    [{ path: 'app.txt', line: 0, body: 'x' }, 400, /line/],
    [{ path: 'app.txt', line: 'one', body: 'x' }, 400, /line/],
    [{ path: 'app.txt', line: 1, body: '' }, 400, /body/],
    [{ path: 'app.txt', line: 1, body: 'x', side: 'left' }, 400, /side/],
    [{ path: 'app.txt', line: 1, body: 'x', job_id: 'other' }, 400, /additional/],
  ];
  for (const [body, status, message] of refusals) {
    const r = await comment(s, job.id, body);
    assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 100)}: ${JSON.stringify(r.body)}`);
    assert.match(r.body.message, message);
  }
  assert.equal((await api(s.server, 'POST', `/api/jobs/${job.id}/comments`, '{"path": "app.txt", "line": 1, ')).status, 400, 'malformed JSON');
  assert.equal((await comment(s, '00000000-0000-4000-8000-000000000000', { path: 'app.txt', line: 1, body: 'x' })).status, 404);
  assert.equal((await api(s.server, 'GET', '/api/jobs/nope/comments')).status, 404);

  // A job without a commit: nothing to comment on.
  const queued = await submit(s.server, { repo_id: s.repoId, title: 'waits', command: 'true', labels: ['nowhere'] });
  const r409 = await comment(s, queued.id, { path: 'app.txt', line: 1, body: 'x' });
  assert.equal(r409.status, 409);
  assert.match(r409.body.message, /has no commit \(it is queued\)/);

  // Resolve, unresolve, filter, delete; a comment of another job is not found there.
  const id = ok.body.id;
  const resolved = await api<Comment>(s.server, 'POST', `/api/jobs/${job.id}/comments/${id}/resolve`);
  assert.equal(resolved.status, 200);
  assert.ok(resolved.body.resolved_at);
  assert.deepEqual(
    (await list(s, job.id, '?resolved=true')).comments.map((c) => c.id),
    [id],
  );
  assert.equal((await list(s, job.id, '?resolved=false')).total, 2);
  assert.equal((await api<Comment>(s.server, 'POST', `/api/jobs/${job.id}/comments/${id}/unresolve`)).body.resolved_at, null);
  assert.deepEqual(
    (await list(s, job.id)).comments.map((c) => `${c.side}:${c.line}`),
    ['old:3', 'new:9', 'old:40'],
    'by path, then line',
  );
  const other = await runJob(s.server, { repo_id: s.repoId, title: 'other', command: 'echo x > x.txt' });
  for (const [method, suffix] of [
    ['POST', '/resolve'],
    ['POST', '/unresolve'],
    ['DELETE', ''],
  ] as const) {
    assert.equal((await api(s.server, method, `/api/jobs/${other.id}/comments/${id}${suffix}`)).status, 404, `${method} ${suffix} via another job`);
    assert.equal((await api(s.server, method, `/api/jobs/${job.id}/comments/not-a-comment${suffix}`)).status, 404);
    // Past the edge's limit on a path parameter (Fastify's maxParamLength).
    assert.equal((await api(s.server, method, `/api/jobs/${job.id}/comments/${'x'.repeat(300)}${suffix}`)).status, 414);
  }
  const third = (await list(s, job.id)).comments.find((c) => c.line === 40)!;
  assert.equal((await api(s.server, 'DELETE', `/api/jobs/${job.id}/comments/${third.id}`)).status, 204);
  assert.equal((await api(s.server, 'DELETE', `/api/jobs/${job.id}/comments/${third.id}`)).status, 404);
  assert.equal((await list(s, job.id)).total, 2);

  // Nothing left to send once all are resolved.
  for (const c of (await list(s, job.id)).comments) await api(s.server, 'POST', `/api/jobs/${job.id}/comments/${c.id}/resolve`);
  const none = await api(s.server, 'POST', `/api/jobs/${job.id}/comments/send`, {});
  assert.equal(none.status, 409);
  assert.match(none.body.message, /has no comment to send/);
  // A command's job has no agent to send to unless one is named.
  assert.equal((await comment(s, other.id, { path: 'x.txt', line: 1, body: 'x' })).status, 201);
  const shell = await api(s.server, 'POST', `/api/jobs/${other.id}/comments/send`, {});
  assert.equal(shell.status, 409);
  assert.match(shell.body.message, /ran a command, not an agent/);
});

test('send: one follow-up on the branch whose prompt holds each comment with its code; it records which comments its diff touched', async (t) => {
  const s = await stack(t);
  const job = await runJob(s.server, { repo_id: s.repoId, title: 'edit', agent: 'editor' });
  assert.equal(job.status, 'succeeded', job.log);
  const add = async (line: number, side: 'new' | 'old', body: string) => {
    const r = await comment(s, job.id, { path: 'app.txt', line, side, body });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.id;
  };
  // The job deleted line 3 and changed line 10 (now 9); the follow-up changes its lines 1, 11 and 38.
  const near = await add(9, 'new', 'Use a constant for TEN ```here```.');
  const far = await add(30, 'new', 'Far from every change.');
  const deleted = await add(3, 'old', 'Keep line 3.');
  // Old line 35 is new line 34: 4 lines from the follow-up's change at 38, though 35 would be 3.
  const shifted = await add(35, 'old', 'Old line 35.');
  const resolved = await add(20, 'new', 'Resolved before the send.');
  await api(s.server, 'POST', `/api/jobs/${job.id}/comments/${resolved}/resolve`);

  // Two sends at once: one follow-up gets the comments, the other finds none left.
  const both = await Promise.all([0, 1].map(() => api<Job & { message: string }>(s.server, 'POST', `/api/jobs/${job.id}/comments/send`, {})));
  assert.deepEqual(both.map((r) => r.status).sort(), [201, 409], JSON.stringify(both.map((r) => r.body)));
  const followup = both.find((r) => r.status === 201)!.body;
  assert.match(both.find((r) => r.status === 409)!.body.message, /has no comment to send/);
  assert.equal(followup.parent_job_id, job.id);
  assert.equal(followup.base_branch, job.branch);
  assert.equal(followup.agent, 'editor');
  assert.equal(followup.title, `Address 4 review comments on job ${job.id.slice(0, 8)}`);
  const listed = (await list(s, job.id)).comments;
  assert.deepEqual(
    listed
      .filter((c) => c.sent_in_job_id === followup.id)
      .map((c) => c.id)
      .sort(),
    [near, far, deleted, shifted].sort(),
  );
  assert.equal(listed.find((c) => c.id === resolved)!.sent_in_job_id, null, 'a resolved comment is not sent');
  assert.equal((await api(s.server, 'POST', `/api/jobs/${job.id}/comments/send`, {})).status, 409, 'each comment is sent once');

  const done = await waitForJob(s.server, followup.id, undefined, 60_000);
  assert.equal(done.status, 'succeeded', done.error ?? '');
  const prompt = await git(['show', `${done.branch}:prompt.txt`], s.bare);
  assert.match(prompt, /^# Task: Address 4 review comments on job/);
  // The base's lines around the deleted line 3, numbered, the commented one marked.
  assert.ok(prompt.includes('## 1. `app.txt`, line 3 (as it was before the job'), prompt);
  assert.ok(prompt.includes('\n\n```\n 1 | line 1\n 2 | line 2\n>3 | line 3\n 4 | line 4\n 5 | line 5\n 6 | line 6\n```\n\nKeep line 3.'), prompt);
  // The job's version around its line 9.
  assert.ok(
    prompt.includes('## 2. `app.txt`, line 9 (as the job left it)\n\n```\n  6 | line 7\n  7 | line 8\n  8 | line 9\n> 9 | LINE TEN\n 10 | line 11\n'),
    prompt,
  );
  assert.ok(prompt.includes('Use a constant for TEN ```here```.'), prompt);
  assert.match(prompt, /line 30 \(as the job left it\)[\s\S]*>30 \| line 31[\s\S]*Far from every change\./);
  assert.match(prompt, /line 35 \(as it was before the job[\s\S]*>35 \| line 35[\s\S]*Old line 35\./);
  assert.doesNotMatch(prompt, /Resolved before the send/);

  // Touched: the comment near line 11's change, and the deleted line 3 near line 1's; not the far one, nor old 35 (new 34, 4 from 38).
  const touched = await eventually('the follow-up touches recorded', async () => {
    const all = (await list(s, job.id)).comments;
    return all.some((c) => c.touched_by_job_id) && all;
  });
  const touchedIds = touched.filter((c) => c.touched_by_job_id === followup.id).map((c) => c.id);
  assert.deepEqual(touchedIds.sort(), [near, deleted].sort());
  assert.ok(s.events.some((e) => e.type === 'comments.changed' && e.job_id === followup.id));
  // What the follow-up addressed, from its side.
  const addressed = await list(s, followup.id, '?sent_to=true');
  assert.equal(addressed.total, 4);
  assert.deepEqual(
    addressed.comments
      .filter((c) => c.touched_by_job_id)
      .map((c) => c.id)
      .sort(),
    [near, deleted].sort(),
  );
  assert.equal((await list(s, followup.id)).total, 0, "the follow-up's own diff has no comments");
});

test('lazyaf review: --file (a bad line named by its number, nothing added), --comment, --list, --resolve, --send printing the follow-up', async (t) => {
  const s = await stack(t);
  const job = await runJob(s.server, { repo_id: s.repoId, title: 'edit', agent: 'editor' });
  assert.equal(job.status, 'succeeded', job.log);
  const dir = tempDir(t);
  const bad = path.join(dir, 'bad.txt');
  fs.writeFileSync(bad, '# review\n\napp.txt:9: fine\napp.txt nine: broken\n');
  const refused = await cli(['review', job.id, '--file', bad], { server: s.server });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /bad\.txt line 4: expected path:line: text/);
  assert.equal((await list(s, job.id)).total, 0, 'nothing added from a file with a bad line');

  const good = path.join(dir, 'review.txt');
  fs.writeFileSync(good, '# review of the edit\n\napp.txt:9: Name it.\napp.txt:30: Fine: but check.\n');
  const added = await cli(['review', job.id.slice(0, 8), '--file', good, '--comment', 'app.txt:1:Header?'], { server: s.server });
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stderr, /Added comment \w{8} on app\.txt:1\nAdded comment \w{8} on app\.txt:9\nAdded comment \w{8} on app\.txt:30\n/);
  const comments = (await list(s, job.id)).comments;
  assert.deepEqual(
    comments.map((c) => `${c.line}:${c.body}`),
    ['1:Header?', '9:Name it.', '30:Fine: but check.'],
  );
  const old = await cli(['review', job.id, '--side', 'old', '--comment', 'app.txt:3:Keep it'], { server: s.server });
  assert.equal(old.code, 0, old.stderr);
  const past = await cli(['review', job.id, '--comment', 'app.txt:99:Nope'], { server: s.server });
  assert.equal(past.code, 1);
  assert.match(past.stderr, /line 99 is past the end of "app\.txt"/);

  const header = comments.find((c) => c.line === 1)!;
  const resolved = await cli(['review', job.id, '--resolve', header.id.slice(0, 8)], { server: s.server });
  assert.equal(resolved.code, 0, resolved.stderr);
  const shown = await cli(['review', job.id, '--list'], { server: s.server });
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^ID\s+WHERE\s+SIDE\s+STATE\s+COMMENT$/m);
  assert.match(shown.stdout, new RegExp(`^${header.id.slice(0, 8)}\\s+app\\.txt:1\\s+new\\s+resolved\\s+Header\\?$`, 'm'));
  assert.match(shown.stdout, /app\.txt:3\s+old\s+open\s+Keep it/);

  const sent = await cli(['review', job.id, '--send'], { server: s.server });
  assert.equal(sent.code, 0, sent.stderr);
  const followupId = sent.stdout.trim();
  assert.match(followupId, /^[0-9a-f-]{36}$/);
  const followup = await waitForJob(s.server, followupId, undefined, 60_000);
  assert.equal(followup.parent_job_id, job.id);
  assert.equal((await list(s, followupId, '?sent_to=true')).total, 3);
  const after = await cli(['review', job.id], { server: s.server });
  assert.match(after.stdout, new RegExp(`sent to ${followupId.slice(0, 8)}`));
  const again = await cli(['review', job.id, '--send'], { server: s.server });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /has no comment to send/);
});

test("a follow-up that finished just before the server stopped has its touches recorded at the server's next start", async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  fs.mkdirSync(data, { recursive: true });
  fs.writeFileSync(path.join(data, 'agents.json'), JSON.stringify({ editor: EDITOR }));
  let server = await startTestServer(t, {}, { dataDir: data });
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo', { 'README.md': '# demo\n', 'app.txt': APP });
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'), ['--agents', 'editor']);
  const job = await runJob(server, { repo_id: repo.id, title: 'edit', agent: 'editor' });
  assert.equal(job.status, 'succeeded', job.log);
  const near = await api<Comment>(server, 'POST', `/api/jobs/${job.id}/comments`, { path: 'app.txt', line: 9, body: 'Near line 11.' });
  assert.equal(near.status, 201, JSON.stringify(near.body));
  const followup = await api<Job>(server, 'POST', `/api/jobs/${job.id}/comments/send`, {});
  assert.equal((await waitForJob(server, followup.body.id, undefined, 60_000)).status, 'succeeded');
  const touchedBy = async () => (await api<CommentList>(server, 'GET', `/api/jobs/${job.id}/comments`)).body.comments[0]!.touched_by_job_id;
  await eventually('the touch recorded', async () => (await touchedBy()) === followup.body.id);

  // As a crash between the follow-up's end and its check leaves the row.
  server.child.kill('SIGKILL');
  await new Promise((r) => server.child.once('exit', r));
  const db = new Database(path.join(data, 'lazyaf.db'));
  db.prepare('UPDATE comments SET touched_by_job_id = NULL, touch_checked_commit = NULL').run();
  db.close();
  server = await startTestServer(t, {}, { dataDir: data, port: server.port });
  await eventually('the touch recorded again at start', async () => (await touchedBy()) === followup.body.id);
});
