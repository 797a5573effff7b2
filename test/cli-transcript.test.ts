import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Assignment } from '../src/shared/protocol.js';
import { RunnerRoutes } from '../src/shared/protocol.js';
import type { TranscriptEntry, Usage } from '../src/shared/transcript.js';
import { api, cli, CLI, eventually, spawnChild, startTestServer, tempDir, type TestServer } from './helpers.js';
import { poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

const ENTRIES: TranscriptEntry[] = [
  { type: 'message', role: 'user', text: '# Task: fix it\n\nThe README follows.' },
  { type: 'thinking', text: 'The bug is in b.ts.\nLet me read a.ts first.' },
  { type: 'tool', tool: 'Read', kind: 'read', path: 'src/a.ts', status: 'ok', output: 'export const a = 1;' },
  {
    type: 'tool',
    tool: 'Edit',
    kind: 'file_edit',
    path: 'src/b.ts',
    status: 'ok',
    diff: '--- a/src/b.ts\n+++ b/src/b.ts\n@@ -1,2 +1,4 @@\n-old\n+new\n+more\n+again\n keep\n',
  },
  { type: 'tool', tool: 'Bash', kind: 'command', command: 'npm test', exit_code: 1, status: 'error', output: 'running\n1 failing' },
  { type: 'error', text: 'API overloaded, retrying' },
  // Agent text is job output: an escape sequence in it must not reach the terminal.
  { type: 'message', role: 'assistant', text: 'Fixed \x1b]0;pwned\x07the test.' },
  { type: 'result', status: 'ok', text: 'All done.' },
];
const USAGE: Usage = { model: 'claude-sonnet-4-5', input_tokens: 1200, output_tokens: 340, turns: 4, duration_ms: 5100, cost_usd: 0.0123 };

async function agentJob(server: TestServer, repoId: string, runnerToken: string): Promise<Assignment> {
  await submit(server, { repo_id: repoId, title: 'agent work', agent: 'claude', model: 'claude-sonnet-4-5' });
  const a = await poll(server, runnerToken);
  assert.ok(a);
  return a;
}

const post = (server: TestServer, a: Assignment, seq: number, entries: TranscriptEntry[]) =>
  api(server, 'POST', RunnerRoutes.transcript(a.attempt_id), { seq, entries }, { token: a.job_token });
const complete = (server: TestServer, a: Assignment, usage: Usage | null) =>
  api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'succeeded', exit_code: 0, commit: null, usage }, { token: a.job_token });

test('jobs logs prints an agent job’s transcript readably, as JSON lines or raw; show, list and usage print what the API holds', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r1', [], ['claude']);
  const a = await agentJob(server, repo.id, runner.token);
  assert.equal((await post(server, a, 1, ENTRIES)).status, 200);
  await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq: 1, data: '{"type":"raw stream line"}\n' }, { token: a.job_token });
  assert.equal((await complete(server, a, USAGE)).status, 200);
  const id = a.job_id.slice(0, 8);

  const logs = await cli(['jobs', 'logs', id], { server });
  assert.equal(logs.code, 0, logs.stderr);
  assert.deepEqual(logs.stdout.split('\n'), [
    '▸ prompt: # Task: fix it …',
    '∴ The bug is in b.ts. …',
    '● Read src/a.ts',
    '✎ Edit src/b.ts (+3 −1)',
    '$ npm test → exit 1',
    '  1 failing',
    '✗ API overloaded, retrying',
    'Fixed \\x1b]0;pwned\\x07the test.',
    '── result (ok) ──',
    'All done.',
    'usage: claude-sonnet-4-5 · 1.2k in · 340 out · 4 turns · $0.01',
    '',
  ]);
  assert.ok(!logs.stdout.includes('\x1b'), 'no escape reaches the terminal');

  const json = await cli(['jobs', 'logs', id, '--json'], { server });
  assert.equal(json.code, 0, json.stderr);
  const lines = json.stdout.trim().split('\n');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l)),
    ENTRIES.map((e, i) => ({ ...e, seq: i + 1 })),
  );
  assert.ok(!json.stdout.includes('\x1b'), 'JSON lines escape it too');

  const raw = await cli(['jobs', 'logs', id, '--raw'], { server });
  assert.equal(raw.code, 0, raw.stderr);
  assert.match(raw.stdout, /\{"type":"raw stream line"\}/);
  assert.match(raw.stdout, /\[lazyaf\] attempt 1 on runner r1/);

  const show = await cli(['jobs', 'show', id], { server });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^model: +claude-sonnet-4-5$/m);
  assert.match(show.stdout, /^usage: +claude-sonnet-4-5 · 1\.2k in · 340 out · 4 turns · \$0\.01$/m);
  assert.match(show.stdout, /^duration: +5\.1 s$/m);
  assert.match(show.stdout, /^transcript: 8 entries/m);

  const shell = await submit(server, { repo_id: repo.id, title: 'shell work', command: 'true' });
  const list = await cli(['jobs', 'list'], { server });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /ID +STATUS +BRANCH +CHECKS +COST +TITLE/);
  assert.match(list.stdout, new RegExp(`^${id} +succeeded, no changes +- +- +\\$0\\.01 +agent work$`, 'm'));
  assert.match(list.stdout, new RegExp(`^${shell.id.slice(0, 8)} +queued +- +- +- +shell work$`, 'm'));
  // A shell job keeps its log; it has no transcript to print as JSON.
  const shellLogs = await cli(['jobs', 'logs', shell.id], { server });
  assert.equal(shellLogs.code, 0, shellLogs.stderr);
  assert.equal(shellLogs.stdout, '');
  const shellJson = await cli(['jobs', 'logs', shell.id, '--json'], { server });
  assert.notEqual(shellJson.code, 0);
  assert.match(shellJson.stderr, /has a log and no transcript/);

  const usage = await cli(['usage'], { server });
  assert.equal(usage.code, 0, usage.stderr);
  const today = new Date().toISOString().slice(0, 10);
  assert.match(usage.stdout, /^REPO +JOBS +INPUT +OUTPUT +CACHE READ +COST$/m);
  assert.match(usage.stdout, /^demo +1 +1,200 +340 +0 +\$0\.01$/m);
  assert.match(usage.stdout, /^total +1 +1,200 +340 +0 +\$0\.01$/m);
  assert.match(usage.stdout, new RegExp(`^${today} +1 +1,200 +340 +0 +\\$0\\.01$`, 'm'));
  const none = await cli(['usage', '--since', '2999-01-01', '--repo', 'demo'], { server });
  assert.equal(none.stdout, 'No agent usage recorded.\n');
  const usageJson = JSON.parse((await cli(['usage', '--json'], { server })).stdout);
  assert.equal(usageJson.total.input_tokens, 1200);
  const bad = await cli(['usage', '--since', 'yesterday'], { server });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--since takes a day/);
});

test('jobs logs -f follows a transcript as it grows, into a second attempt, until the job ends', async (t) => {
  const server = await startTestServer(t, { LAZYAF_LEASE_TTL: '2' });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r1', [], ['claude']);
  const a = await agentJob(server, repo.id, runner.token);
  const follower = spawnChild(t, process.execPath, [CLI, 'jobs', 'logs', '-f', a.job_id], {
    env: { ...process.env, LAZYAF_SERVER: server.url, LAZYAF_TOKEN: server.token },
  });
  let stdout = '';
  follower.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => follower.on('close', resolve));
  assert.equal((await post(server, a, 1, ENTRIES.slice(2, 3))).status, 200);
  // The follower prints the first entry while the attempt still runs.
  await eventually('the follower to print the first entry', () => stdout.includes('● Read src/a.ts'));
  assert.equal((await post(server, a, 2, ENTRIES.slice(3, 4))).status, 200);
  // The runner gives the job back; a second attempt runs it to the end.
  await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'returned' }, { token: a.job_token });
  const b = await poll(server, runner.token);
  assert.equal(b?.job_id, a.job_id);
  assert.equal((await post(server, b!, 1, ENTRIES.slice(7))).status, 200);
  assert.equal((await complete(server, b!, USAGE)).status, 200);
  assert.equal(await exited, 0);
  assert.deepEqual(stdout.split('\n'), [
    '● Read src/a.ts',
    '✎ Edit src/b.ts (+3 −1)',
    '── attempt 2 ──',
    '── result (ok) ──',
    'All done.',
    'usage: claude-sonnet-4-5 · 1.2k in · 340 out · 4 turns · $0.01',
    '',
  ]);
});
