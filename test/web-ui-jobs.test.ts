import assert from 'node:assert/strict';
import path from 'node:path';
import { startTestServer, tempDir } from './helpers.js';
import { seedRepo, startRunnerProcess, submit, waitForJob } from './queue-helpers.js';
import { section, signIn, uiTest } from './browser-helpers.js';

// Lines two seconds apart, one of them red, and a file written, so the job has a diff.
const COMMAND = [
  "printf 'first line\\n'",
  'sleep 2',
  "printf '\\033[31mred line\\033[0m\\n'",
  'sleep 2',
  "printf 'made by the job\\n' > made.txt",
  "printf 'last line\\n'",
].join('; ');

/** Runs in the page (the tests type-check without the DOM's types). */
const colourOf = (el: unknown): string => (globalThis as any).getComputedStyle(el).color;

uiTest('jobs: a job submitted from the New job form shows its log live until it succeeded, then its diff', async (t, ui) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  await seedRepo(server, path.join(dir, 'src'), 'demo');
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  const { page } = ui;
  await signIn(ui, server);

  await page.getByRole('button', { name: 'New job' }).click();
  await page.getByLabel('Repository', { exact: true }).selectOption({ label: 'demo' });
  await page.getByLabel('Base branch', { exact: true }).fill('main');
  await page.getByLabel('Title', { exact: true }).fill('Live log');
  await page.getByLabel('Description', { exact: true }).fill('prints three lines');
  await page.getByLabel('Agent', { exact: true }).selectOption({ label: 'shell' });
  await page.getByLabel('Command', { exact: true }).fill(COMMAND);
  await ui.screenshot('form');
  await page.getByRole('button', { name: 'Submit' }).click();

  await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
  const id = /\/jobs\/([0-9a-f-]{36})$/.exec(page.url())![1]!;
  await page.getByRole('heading', { level: 1, name: 'Live log' }).waitFor();
  const log = page.getByRole('log', { name: 'Log' });
  // The first line shows while the command still sleeps: the log follows the job, not its end.
  await log.getByText('first line').waitFor();
  assert.doesNotMatch(await log.innerText(), /last line/);
  await ui.screenshot('running');

  await page.getByText('succeeded', { exact: true }).first().waitFor();
  await log.getByText('last line').waitFor();
  const text = await log.innerText();
  assert.match(text, /first line\s+red line\s+last line/);
  assert.ok(!text.includes('[31m'), 'the colour code is rendered, not shown');
  const red = log.getByText('red line');
  const colour = await red.evaluate(colourOf);
  const plain = await log.getByText('first line').evaluate(colourOf);
  assert.notEqual(colour, plain, 'the red line has a colour of its own');
  // The palette's red on the light theme (#c0392b): the stylesheet gives the class ansi.ts names its colour.
  assert.equal(colour, 'rgb(192, 57, 43)');

  const job = await waitForJob(server, id);
  assert.equal(job.status, 'succeeded', job.error ?? '');
  await section(page, 'Attempts').getByText('succeeded').first().waitFor();

  const changes = section(page, 'Changes');
  await changes.getByRole('button', { name: 'Show diff' }).click();
  await changes.getByText('made.txt').first().waitFor();
  await changes.getByText('+made by the job').first().waitFor();
});

uiTest('jobs: Cancel stops a running job, Follow up starts a job on top of what it kept, and Retry runs it again', async (t, ui) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo');
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  // It writes a file and waits to be cancelled; its branch keeps the file.
  const job = await submit(server, { repo_id: repo.id, title: 'Stop and go', command: "printf 'kept\\n' > kept.txt; echo waiting; sleep 600" });
  const { page } = ui;
  await signIn(ui, server);
  await page.goto(`${server.url}/jobs/${job.id}`);
  await page.getByRole('heading', { level: 1, name: 'Stop and go' }).waitFor();
  const log = page.getByRole('log', { name: 'Log' });
  // Exactly the job's line: the log's placeholder for a queued job says "Waiting for a runner".
  await log.getByText('waiting', { exact: true }).waitFor();

  const cancel = page.getByRole('button', { name: 'Cancel', exact: true });
  await cancel.click();
  await page.getByText('cancelled', { exact: true }).first().waitFor();
  const cancelled = await waitForJob(server, job.id);
  assert.equal(cancelled.status, 'cancelled');
  await cancel.waitFor({ state: 'detached' });
  await section(page, 'Attempts').getByText('cancelled').first().waitFor();
  await ui.screenshot('cancelled');

  await page.getByRole('button', { name: 'Follow up', exact: true }).click();
  const form = page.getByRole('form', { name: 'Follow up' });
  await form.getByLabel('Title', { exact: true }).fill('On top');
  await form.getByLabel('Agent', { exact: true }).selectOption({ label: 'shell' });
  await form.getByLabel('Command', { exact: true }).fill('cat kept.txt');
  await form.getByRole('button', { name: 'Submit follow-up' }).click();
  await page.getByRole('heading', { level: 1, name: 'On top' }).waitFor();
  const followup = /\/jobs\/([0-9a-f-]{36})$/.exec(page.url())?.[1];
  assert.ok(followup && followup !== job.id, page.url());
  await log.getByText('kept', { exact: true }).waitFor();
  const next = await waitForJob(server, followup);
  assert.equal(next.status, 'succeeded', next.error ?? '');
  assert.equal(next.base_branch, cancelled.branch);
  await ui.screenshot('followed-up');

  await page.goBack();
  await page.getByRole('heading', { level: 1, name: 'Stop and go' }).waitFor();
  await page.getByRole('button', { name: 'Retry', exact: true }).click();
  await section(page, 'Attempts').locator('tbody tr').nth(1).waitFor();
  await log.getByText('[lazyaf] attempt 2', { exact: false }).waitFor();
  await log.getByText('waiting', { exact: true }).nth(1).waitFor();
  await cancel.click();
  await waitForJob(server, job.id, (j) => j.status === 'cancelled' && j.attempts?.length === 2);
  await page.getByRole('button', { name: 'Retry', exact: true }).waitFor();
});

uiTest('jobs: the diff of a job that changed more files than the server lists says that its list is cut', async (t, ui) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo');
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  // One file past the 3,000 a diff lists by default.
  const job = await waitForJob(
    server,
    (await submit(server, { repo_id: repo.id, title: 'Many files', command: 'mkdir many && cd many && seq 3001 | xargs touch' })).id,
  );
  assert.equal(job.status, 'succeeded', job.error ?? '');
  const { page } = ui;
  await signIn(ui, server);
  await page.goto(`${server.url}/jobs/${job.id}`);
  const changes = section(page, 'Changes');
  await changes.getByRole('button', { name: 'Show diff' }).click();
  await changes.getByText('3000 files changed').waitFor();
  await changes.getByText('The job changed more files than these 3000: the list is cut').waitFor();
});
