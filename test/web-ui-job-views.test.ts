import assert from 'node:assert/strict';
import path from 'node:path';
import { api, startTestServer, tempDir } from './helpers.js';
import { seedRepo, startRunnerProcess, submit, waitForJob } from './queue-helpers.js';
import { section, signIn, uiTest } from './browser-helpers.js';

uiTest("job list: newest created first even after a retry, with each job's branch, agent, runner and duration", async (t, ui) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo');
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  const older = await submit(server, { repo_id: repo.id, title: 'Older and retried', command: 'exit 3', max_attempts: 1 });
  assert.equal((await waitForJob(server, older.id)).status, 'failed');
  const newer = await submit(server, { repo_id: repo.id, title: 'Newer', command: 'sleep 1; echo new > new.txt' });
  assert.equal((await waitForJob(server, newer.id)).status, 'succeeded');
  // A retry queues the older job again after the newer one: its place in the list stays its creation's.
  assert.equal((await api(server, 'POST', `/api/jobs/${older.id}/retry`)).status, 200);
  await waitForJob(server, older.id, (j) => j.status === 'failed' && j.attempts?.length === 2);

  const { page } = ui;
  await signIn(ui, server);
  const table = page.getByRole('table', { name: 'Job list' });
  const headers = await table.locator('thead th').allInnerTexts();
  for (const name of ['Branch', 'Agent', 'Runner', 'Duration', 'Created']) assert.ok(headers.includes(name), `a ${name} column: ${headers.join(', ')}`);
  await table.locator(`tr[data-job-id="${older.id}"]`).getByText('failed').waitFor();
  const rows = table.locator('tbody tr');
  assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => (tr as unknown as { dataset: { jobId: string } }).dataset.jobId)), [newer.id, older.id]);

  const cell = (label: string) => table.locator(`tr[data-job-id="${newer.id}"] td[data-label="${label}"]`);
  assert.match(await cell('Branch').innerText(), new RegExp(`^main → lazyaf/${newer.id.slice(0, 8)}`));
  assert.equal((await cell('Agent').innerText()).trim(), 'shell');
  assert.match((await cell('Runner').innerText()).trim(), /^(r1|[0-9a-f]{8})$/);
  assert.match((await cell('Duration').innerText()).trim(), /^\d+s$/);
});

uiTest('job page: no diff until there is a commit, an attempt in progress says so, and a finished log stops saying Following', async (t, ui) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo');
  // No runner yet: the job stays queued while the page is checked.
  const job = await submit(server, { repo_id: repo.id, title: 'Slow writer', command: "echo started; sleep 4; printf 'x\\n' > f.txt; echo done" });
  const { page } = ui;
  await signIn(ui, server);
  await page.goto(`${server.url}/jobs/${job.id}`);
  await page.getByRole('heading', { level: 1, name: 'Slow writer' }).waitFor();
  const changes = section(page, 'Changes');
  await changes.getByText('The diff shows once the job has committed its work.').waitFor();
  assert.equal(await changes.getByRole('button', { name: 'Show diff' }).count(), 0, 'a queued job offers no diff');

  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  const log = page.getByRole('log', { name: 'Log' });
  await log.getByText('started', { exact: true }).waitFor();
  const attempts = section(page, 'Attempts');
  await attempts.getByText('in progress', { exact: true }).waitFor();
  assert.equal(await attempts.getByText('running', { exact: true }).count(), 0, 'an attempt in progress has no end reason');
  await page.getByText('Following', { exact: true }).waitFor();
  assert.equal(await changes.getByRole('button', { name: 'Show diff' }).count(), 0, 'a running job offers no diff');
  await ui.screenshot('running');

  assert.equal((await waitForJob(server, job.id)).status, 'succeeded');
  await log.getByText('done', { exact: true }).waitFor();
  await attempts.getByText('succeeded').first().waitFor();
  await page.getByText('Following', { exact: true }).waitFor({ state: 'detached' });
  await changes.getByRole('button', { name: 'Show diff' }).click();
  await changes.getByText('f.txt').first().waitFor();
});
