import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RunnerRoutes, type Assignment } from '../src/shared/protocol.js';
import type { TranscriptEntry } from '../src/shared/transcript.js';
import { api, authUrl, eventually, git, startTestServer, tempDir } from './helpers.js';
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

/** The page's window, as the functions run in it see it (the tests have no DOM types). */
type PageWindow = { innerHeight: number; scrollY: number; scrollTo: (x: number, y: number) => void };

/** Entry `i` (from 1) of a long run: a reply, a read with its output, or a command, each naming its number. */
function longRunEntry(i: number): TranscriptEntry {
  if (i === 1) return { type: 'message', role: 'user', text: '# Task: a long run' };
  if (i % 3 === 0) return { type: 'message', role: 'assistant', text: `reply ${i}` };
  if (i % 3 === 1) return { type: 'tool', tool: 'Read', kind: 'read', path: `src/f${i}.ts`, status: 'ok', output: `contents ${i}` };
  return { type: 'tool', tool: 'Bash', kind: 'command', command: `npm test -- ${i}`, status: 'ok', exit_code: 0, output: `ok ${i}` };
}

uiTest(
  'transcript: 20,000 entries open at their start, draw the rest as it nears the view, jump to the end and follow it live, markup kept as text',
  async (t, ui) => {
    const server = await startTestServer(t);
    const repo = await seedRepo(server, path.join(tempDir(t), 'src'), 'demo');
    const runner = await registerRunner(server, 'r1', [], ['claude']);
    const job = await submit(server, { repo_id: repo.id, title: 'A long run', agent: 'claude' });
    const a = (await poll(server, runner.token)) as Assignment;
    assert.equal(a.job_id, job.id);
    const send = async (seq: number, entries: TranscriptEntry[]): Promise<void> => {
      const r = await api(server, 'POST', RunnerRoutes.transcript(a.attempt_id), { seq, entries }, { token: a.job_token });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    // 19,990 entries before the page opens, in the runner's batches of 200.
    for (let from = 1, seq = 1; from <= 19_990; from += 200, seq++) {
      await send(
        seq,
        Array.from({ length: Math.min(200, 19_991 - from) }, (_, k) => longRunEntry(from + k)),
      );
    }

    const { page } = ui;
    await signIn(ui, server);
    await ui.open(`${server.url}/jobs/${job.id}`);
    const transcript = section(page, 'What the agent did').getByRole('list', { name: 'Transcript' });
    const entries = transcript.locator(':scope > li[data-type]');
    await transcript.locator('details.prompt').waitFor();
    await transcript.getByText('reply 3', { exact: true }).waitFor();
    // The whole transcript is read, yet only the blocks near the view are drawn.
    await page.getByText('Reading the rest of the transcript…').waitFor({ state: 'detached' });
    const drawn = await entries.count();
    assert.ok(drawn >= 200 && drawn < 2000, `${drawn} entries drawn of 19,990`);
    assert.equal(await transcript.getByText('reply 19989', { exact: true }).count(), 0, 'the end is not drawn yet');

    // Asked for, the end is drawn and scrolled to, and stays in view as the agent goes on.
    await page.getByRole('button', { name: 'Jump to the end' }).click();
    await page.getByText('Following new entries.').waitFor();
    const inView = async (text: string): Promise<boolean> => {
      const item = transcript.getByText(text, { exact: true });
      if ((await item.count()) === 0) return false;
      return item.evaluate((el) => {
        const box = el.getBoundingClientRect();
        return box.height > 0 && box.top >= 0 && box.bottom <= (globalThis as unknown as PageWindow).innerHeight;
      });
    };
    await eventually('the last entry in view', () => inView('reply 19989'));
    const hostile: TranscriptEntry[] = [
      ...Array.from({ length: 8 }, (_, k) => longRunEntry(19_991 + k)),
      { type: 'message', role: 'assistant', text: '<img src=x onerror=alert(1)> and <script>alert(2)</script>' },
      { type: 'tool', tool: 'Bash', kind: 'command', command: '<b>bold</b> && echo done', status: 'ok', exit_code: 0, output: 'done' },
    ];
    await send(101, hostile);
    await eventually('the live entry in view', () => inView('<img src=x onerror=alert(1)> and <script>alert(2)</script>'));
    await transcript.getByText('<b>bold</b> && echo done', { exact: true }).waitFor();
    assert.equal(await transcript.locator('img, script, b').count(), 0, 'markup in entries stays text');
    assert.equal(await transcript.locator(':scope > li[data-type]').last().getAttribute('data-kind'), 'command', 'the last entry last');

    // Scrolled away from the end, the view stops following; a block in the middle is drawn as it comes into view.
    await transcript.evaluate((el) => {
      const win = globalThis as unknown as PageWindow;
      win.scrollTo(0, el.getBoundingClientRect().top + win.scrollY + el.scrollHeight / 2);
    });
    await page.getByText('Following new entries.').waitFor({ state: 'detached' });
    await eventually('entries from the middle in view', () =>
      entries.evaluateAll((items) =>
        items.some((li) => {
          const box = li.getBoundingClientRect();
          const n = Number(/\b(\d{4,5})\b/.exec(li.textContent ?? '')?.[1]);
          return box.bottom > 0 && box.top < (globalThis as unknown as PageWindow).innerHeight && n > 5000 && n < 15_000;
        }),
      ),
    );
    await ui.screenshot('long transcript');
  },
);

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
