import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startTestServer, tempDir } from './helpers.js';
import { seedRepo, startRunnerProcess, submit, waitForJob } from './queue-helpers.js';
import { refusedRequest, uiTest } from './browser-helpers.js';

/** Whether the page itself scrolls sideways (a table may scroll inside its own box). */
const overflowsSideways = (page: Page) => page.evaluate('document.documentElement.scrollWidth > window.innerWidth') as Promise<boolean>;

/** The cells of rows that are cut off: lying, even in part, beyond the window's right edge (behind a table's own sideways scroll) or wider inside than their box. */
const cellsCutOff = (page: Page, rows: string) =>
  page
    .locator(`${rows} td`)
    .evaluateAll(
      (cells) => cells.filter((c) => c.getBoundingClientRect().right > (globalThis as any).innerWidth + 0.5 || c.scrollWidth > c.clientWidth + 1).length,
    );

/** Presses Tab until `name`d button has the focus (at most 40 times) and says how many it took. */
async function tabTo(page: Page, name: string): Promise<number> {
  for (let i = 1; i <= 40; i++) {
    await page.keyboard.press('Tab');
    if (await page.getByRole('button', { name, exact: true }).evaluate((el) => el === (globalThis as any).document.activeElement)) return i;
  }
  assert.fail(`Tab never reached the "${name}" button`);
}

uiTest('usable: keyboard only from sign-in to a job, a narrow window without sideways scroll, and pages for what does not exist', async (t, ui) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'a-repo-with-a-rather-long-name-for-a-phone');
  startRunnerProcess(t, server, 'a-runner-with-a-long-name', path.join(dir, 'runners'), ['--labels', 'gpu,os=linux']);
  const job = await submit(server, {
    repo_id: repo.id,
    title: 'A job title long enough to need wrapping on a phone-sized window, and then some more words',
    command: "printf '%s\\n' 'a log line much wider than any phone: 0123456789012345678901234567890123456789012345678901234567890123456789'",
  });
  assert.equal((await waitForJob(server, job.id, undefined, 60_000)).status, 'succeeded');
  const { page } = ui;

  // Keyboard only: the token, Enter, then Tab to New job and Enter.
  await ui.open(server.url);
  await page.getByLabel('Admin token').focus();
  await page.keyboard.type(server.token);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Runners', exact: true }).waitFor();
  await tabTo(page, 'New job');
  await page.keyboard.press('Enter');
  await page.getByLabel('Title', { exact: true }).waitFor();
  await tabTo(page, 'Docker command');
  await page.keyboard.press('Enter');
  await page.getByRole('dialog', { name: 'Docker command' }).waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('dialog', { name: 'Docker command' }).waitFor({ state: 'hidden' });

  // A phone-sized window: the overview, the job page and the repo page fit its width.
  await page.setViewportSize({ width: 360, height: 740 });
  await page.locator(`tr[data-job-id="${job.id}"]`).waitFor();
  await page.locator('tr[data-runner-id]').first().waitFor();
  assert.equal(await overflowsSideways(page), false, 'the overview fits a narrow window');
  assert.equal(await cellsCutOff(page, `tr[data-job-id="${job.id}"]`), 0, "every column of a job's row shows, its status too");
  assert.equal(await cellsCutOff(page, 'tr[data-runner-id]'), 0, "every column of a runner's row shows");
  await ui.screenshot('narrow-overview');
  await page.goto(`${server.url}/jobs/${job.id}`);
  await page.getByRole('log', { name: 'Log' }).getByText('a log line').waitFor();
  assert.equal(await overflowsSideways(page), false, 'the job page fits a narrow window');
  assert.equal(await cellsCutOff(page, 'table[aria-label="Attempts"] tbody tr'), 0, "every column of an attempt's row shows");
  await ui.screenshot('narrow-job');
  await page.goto(`${server.url}/repos/${repo.name}`);
  await page.getByRole('table', { name: 'Branches' }).waitFor();
  assert.equal(await overflowsSideways(page), false, 'the repo page fits a narrow window');
  await ui.screenshot('narrow-repo');

  // What does not exist says so, with the way back in the header.
  ui.expectConsoleError(refusedRequest(404, /\/api\/(jobs|repos)\/[^/]+$/));
  await page.goto(`${server.url}/jobs/${crypto.randomUUID()}`);
  await page
    .getByText(/not found|no job/i)
    .first()
    .waitFor();
  await page.goto(`${server.url}/repos/no-such-repo`);
  await page
    .getByText(/not found|no repo/i)
    .first()
    .waitFor();
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('heading', { name: 'Runners', exact: true }).waitFor();
});
