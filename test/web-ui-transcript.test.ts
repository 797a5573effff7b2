import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RunnerRoutes, type Assignment } from '../src/shared/protocol.js';
import type { TranscriptEntry } from '../src/shared/transcript.js';
import { api, authUrl, git, startTestServer, tempDir } from './helpers.js';
import { getJob, poll, registerRunner, seedRepo, submit, waitForJob } from './queue-helpers.js';
import { section, signIn, uiTest } from './browser-helpers.js';

// What an agent did, in two batches as a runner sends them: the second arrives while the page is open.
const FIRST: TranscriptEntry[] = [
  { type: 'message', role: 'user', text: '# Task: fix the greeting' },
  { type: 'thinking', text: 'The greeting lives in hello.txt.' },
  { type: 'tool', tool: 'Read', kind: 'read', path: 'README.md', status: 'ok', output: '# demo' },
  {
    type: 'tool',
    tool: 'Edit',
    kind: 'file_edit',
    path: 'hello.txt',
    status: 'ok',
    diff: '--- a/hello.txt\n+++ b/hello.txt\n@@ -1 +1,2 @@\n-hello\n+hello, world\n+<script>alert(1)</script>\n',
  },
];
const SECOND: TranscriptEntry[] = [
  { type: 'tool', tool: 'Bash', kind: 'command', command: 'npm test', status: 'error', exit_code: 1, output: '1 failing\nexpected 2, got 3' },
  { type: 'error', text: 'API error: overloaded, retrying' },
  { type: 'message', role: 'assistant', text: 'I changed the greeting; one test still fails.' },
  { type: 'result', status: 'ok', text: 'Changed hello.txt.' },
];

uiTest('transcript: an agent job shows what it did as a conversation, live, with its usage; the raw log is the other tab', async (t, ui) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'), 'demo');
  const runner = await registerRunner(server, 'r1', [], ['claude']);
  const job = await submit(server, { repo_id: repo.id, title: 'Fix the greeting', agent: 'claude', model: 'claude-sonnet-4-5' });
  const a = (await poll(server, runner.token)) as Assignment;
  assert.equal(a.job_id, job.id);
  const send = async (seq: number, entries: TranscriptEntry[]): Promise<void> => {
    const r = await api(server, 'POST', RunnerRoutes.transcript(a.attempt_id), { seq, entries }, { token: a.job_token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };
  await send(1, FIRST);
  await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq: 1, data: 'raw agent output\n' }, { token: a.job_token });

  const { page } = ui;
  await signIn(ui, server);
  await ui.open(`${server.url}/jobs/${job.id}`);
  const work = section(page, 'What the agent did');
  const transcript = work.getByRole('list', { name: 'Transcript' });
  await transcript.locator('[data-kind="file_edit"]').waitFor();
  // The prompt and the thinking are there, folded.
  assert.equal(await transcript.locator('details.prompt').getAttribute('open'), null);
  assert.equal(await transcript.locator('details.thinking').getAttribute('open'), null);
  // The edit is one row, naming its file and counting its lines; opened, its diff (markup shown as text).
  const edit = transcript.locator('[data-kind="file_edit"]');
  assert.match((await edit.locator('summary').innerText()).replace(/\s+/g, ' '), /Edit hello\.txt \+2 −1 Edit/);
  await edit.locator('summary').click();
  await edit.getByLabel('Changes to the file').getByText('+<script>alert(1)</script>').waitFor();

  // The rest comes live.
  await send(2, SECOND);
  const command = transcript.locator('[data-kind="command"]');
  await command.waitFor();
  assert.match(await command.locator('summary').innerText(), /npm test[\s\S]*exit 1/);
  await command.locator('summary').click();
  await command.getByLabel('Output').getByText('expected 2, got 3').waitFor();
  await transcript.locator('.error-text').getByText('API error: overloaded, retrying').waitFor();
  await transcript.getByText('I changed the greeting; one test still fails.').waitFor();
  await transcript.locator('.result').getByText('Changed hello.txt.').waitFor();
  assert.deepEqual(
    await transcript.locator(':scope > li').evaluateAll((items) => items.map((li) => (li as unknown as { dataset: { type: string } }).dataset.type)),
    ['message', 'thinking', 'tool', 'tool', 'tool', 'error', 'message', 'result'],
    'each entry once, in order',
  );

  // The usage the runner reports at the end shows in the header.
  const done = await api(
    server,
    'POST',
    RunnerRoutes.complete(a.attempt_id),
    { outcome: 'succeeded', exit_code: 0, usage: { model: 'claude-sonnet-4-5', input_tokens: 12_000, output_tokens: 800, turns: 3, cost_usd: 0.0421 } },
    { token: a.job_token },
  );
  assert.equal(done.status, 200, JSON.stringify(done.body));
  await waitForJob(server, job.id);
  await page.getByLabel('Usage').getByText('claude-sonnet-4-5 · 12k in · 800 out · 3 turns · $0.04').waitFor();
  await ui.screenshot('transcript');

  // The raw log is the second tab.
  await work.getByRole('tab', { name: 'Raw log' }).click();
  await work.getByText('raw agent output').waitFor();

  // The job list flags an agent job that succeeded without changes, and shows its cost.
  await ui.open(server.url);
  const row = page.locator(`tr[data-job-id="${job.id}"]`);
  await row.getByText('no changes').waitFor();
  await row.getByText('$0.04').waitFor();
});

uiTest('agent forms: New job picks a model, Follow up can start a new conversation instead of resuming', async (t, ui) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  await seedRepo(server, path.join(dir, 'src'), 'demo');
  const runner = await registerRunner(server, 'r1', [], ['claude']);
  const { page } = ui;
  await signIn(ui, server);

  await page.getByRole('button', { name: 'New job' }).click();
  await page.getByLabel('Repository', { exact: true }).selectOption({ label: 'demo' });
  await page.getByLabel('Base branch', { exact: true }).fill('main');
  await page.getByLabel('Title', { exact: true }).fill('With a model');
  await page.getByLabel('Agent', { exact: true }).selectOption({ label: 'claude' });
  await page.getByLabel('Model', { exact: true }).fill('claude-haiku-4-5');
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
  const id = /\/jobs\/([0-9a-f-]{36})$/.exec(page.url())![1]!;
  await page.getByText('claude (claude-haiku-4-5)').waitFor();
  assert.equal((await getJob(server, id)).model, 'claude-haiku-4-5');

  // The runner's side, by hand: a commit on the job's branch and its completion, so it can be followed up.
  const a = (await poll(server, runner.token)) as Assignment;
  const clone = path.join(dir, 'clone');
  await git(['clone', '-q', '--branch', a.base_branch, authUrl(a.clone_url, a.job_token), clone]);
  fs.writeFileSync(path.join(clone, 'hello.txt'), 'hello\n');
  await git(['add', '.'], clone);
  await git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'hello'], clone);
  await git(['push', '-q', 'origin', `HEAD:refs/heads/${a.branch}`], clone);
  const commit = await git(['rev-parse', 'HEAD'], clone);
  const done = await api(
    server,
    'POST',
    RunnerRoutes.complete(a.attempt_id),
    { outcome: 'succeeded', exit_code: 0, commit, session_id: 'sess-1' },
    { token: a.job_token },
  );
  assert.equal(done.status, 200, JSON.stringify(done.body));

  await page.getByRole('button', { name: 'Follow up' }).click();
  const form = page.getByRole('form', { name: 'Follow up' });
  await form.getByText('By the same agent it continues this job').waitFor();
  await form.getByLabel('Title', { exact: true }).fill('Start over');
  await form.getByLabel('Agent', { exact: true }).selectOption({ label: 'claude' });
  await form.getByLabel('Start a new conversation').check();
  await form.getByRole('button', { name: 'Submit follow-up' }).click();
  await page.waitForURL((url) => !url.pathname.endsWith(id));
  const followup = /\/jobs\/([0-9a-f-]{36})$/.exec(page.url())![1]!;
  // A fresh follow-up resumes nothing: its assignment names no session.
  const next = (await poll(server, runner.token)) as Assignment;
  assert.equal(next.job_id, followup);
  assert.equal(next.agent_run?.resume, null, 'a new conversation');
  assert.equal(next.agent_run?.parent_conversation, undefined, "not even the parent's summary");
  assert.equal((await getJob(server, followup)).model, 'claude-haiku-4-5', "the parent's model is kept");
});
