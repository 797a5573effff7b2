import assert from 'node:assert/strict';
import path from 'node:path';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { api, startTestServer, tempDir } from './helpers.js';
import { poll, registerRunner, seedRepo, submit, waitForJob } from './queue-helpers.js';
import { section, signIn, uiTest } from './browser-helpers.js';

uiTest('job page: its setup and each check with its output, open for the one that failed; the job list marks the checks', async (t, ui) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'), 'demo');
  const runner = await registerRunner(server, 'r1');
  const job = await submit(server, { repo_id: repo.id, title: 'Checked work', command: 'true', require_checks: true });
  const a = await poll(server, runner.token, 5000);
  assert.equal(a?.job_id, job.id);
  const done = await api(
    server,
    'POST',
    RunnerRoutes.complete(a!.attempt_id),
    {
      outcome: 'succeeded',
      exit_code: 0,
      setup: { status: 'cached', duration_ms: 40 },
      checks: [
        { name: 'lint', status: 'passed', duration_ms: 300, output_tail: 'all clean\n' },
        { name: 'test', status: 'failed', duration_ms: 1200, output_tail: '\u001b[31mnot ok 1 - adds\u001b[0m\n# fail 1\n' },
      ],
    },
    { token: a!.job_token },
  );
  assert.equal(done.status, 200, JSON.stringify(done.body));
  assert.equal((await waitForJob(server, job.id)).status, 'failed');

  const { page } = ui;
  await signIn(ui, server);
  const list = page.getByRole('table', { name: 'Job list' });
  const status = list.locator(`tr[data-job-id="${job.id}"] td[data-label="Status"]`);
  await status.getByText('test✗').waitFor();

  await page.goto(`${server.url}/jobs/${job.id}`);
  await page.getByRole('heading', { level: 1, name: 'Checked work' }).waitFor();
  const checks = section(page, 'Setup and checks');
  await checks.getByText("restored from the runner's cache, not run").waitFor();
  await checks.getByText('1/2 passed').waitFor();
  const failed = checks.locator('li[data-check="test"]');
  // Open for the failed check, its colours dropped; the passed one is closed.
  await failed.getByText('not ok 1 - adds').waitFor();
  assert.equal(await failed.locator('details').getAttribute('open'), '');
  assert.equal(await checks.locator('li[data-check="lint"] details').getAttribute('open'), null);
  assert.ok(!(await failed.locator('pre').innerText()).includes('\u001b'));
  await page.getByText('check test failed').first().waitFor();
  await ui.screenshot('checks');
});
