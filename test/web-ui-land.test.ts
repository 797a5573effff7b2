import assert from 'node:assert/strict';
import path from 'node:path';
import { authUrl, branchTip, createRepo, git, makeRepo, makeRepoWithOrigin, startTestServer, tempDir } from './helpers.js';
import { startRunnerProcess, submit, waitForJob } from './queue-helpers.js';
import type { Page } from 'playwright-core';
import { refusedRequest, signIn, uiTest } from './browser-helpers.js';

/** The land outcome on a repo page: a status that is not the connection indicator. */
const outcome = (ui: { page: Page }) => ui.page.getByRole('status').filter({ hasNotText: /^(live|connecting|disconnected)$/ });

uiTest("repos: Land pushes a job's branch to the repo's remote, and a repo without a remote says why not", async (t, ui) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const { src, origin } = await makeRepoWithOrigin(dir, { 'README.md': '# land me\n' });
  const repo = await createRepo(server, 'landme', { remote_url: origin });
  await git(['push', '-q', authUrl(repo.clone_url, server.token), 'main'], src);
  const bare = await createRepo(server, 'noremote');
  await git(['push', '-q', authUrl(bare.clone_url, server.token), 'main'], await makeRepo(path.join(dir, 'other'), { 'a.txt': 'a\n' }));
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  const submitted = await submit(server, { repo_id: repo.id, title: 'to land', command: "printf 'landed\\n' > landed.txt" });
  const job = await waitForJob(server, submitted.id, undefined, 60_000);
  assert.equal(job.status, 'succeeded', job.error ?? '');
  const branch = job.branch!;
  const commit = job.commit!;
  assert.equal(await branchTip(origin, branch), undefined, 'not on the remote before Land');

  const { page } = ui;
  await signIn(ui, server);
  await page.getByRole('link', { name: 'Repos' }).click();
  await page.getByRole('link', { name: 'landme' }).click();
  await page.getByRole('heading', { level: 1, name: 'landme' }).waitFor();
  assert.match(page.url(), /\/repos\/landme$/);
  await page.locator('code').filter({ hasText: repo.clone_url }).first().waitFor();
  // The repo exists: a clone is linked to it (ingest would try to create it again).
  await page.locator('code').filter({ hasText: 'lazyaf link landme' }).waitFor();
  assert.equal(await page.locator('dd code').filter({ hasText: 'lazyaf ingest' }).count(), 0, 'no ingest offered for a repo that exists');

  const branches = page.getByRole('table', { name: 'Branches' });
  const main = branches.locator('tr[data-branch="main"]');
  await main.getByText('default', { exact: true }).waitFor();
  const row = branches.locator(`tr[data-branch="${branch}"]`);
  await row.getByText('lazyaf', { exact: true }).waitFor();
  await row.getByText(commit.slice(0, 7)).waitFor();
  await ui.screenshot('branches');

  // Land asks first, naming the branch, its commit and the remote, with Close focused: Enter lands nothing.
  await row.getByRole('button', { name: 'Land' }).click();
  const confirm = page.getByRole('dialog', { name: `Land ${branch}?` });
  await confirm.getByText(origin).waitFor();
  await confirm.getByText(commit.slice(0, 7)).waitFor();
  await ui.screenshot('land-confirm');
  assert.equal(
    await confirm.getByRole('button', { name: 'Close' }).evaluate((b) => b === (globalThis as any).document.activeElement),
    true,
    'Close has the focus',
  );
  await page.keyboard.press('Enter');
  await confirm.waitFor({ state: 'hidden' });
  assert.equal(await outcome(ui).count(), 0, 'nothing landed');
  assert.equal(await branchTip(origin, branch), undefined, 'Enter on the focused Close pushes nothing');
  await row.getByRole('button', { name: 'Land' }).click();
  await confirm.getByRole('button', { name: 'Land' }).click();
  await outcome(ui).waitFor();
  assert.equal(await branchTip(origin, branch), commit, 'the remote has the branch at the job commit');
  assert.equal(await git(['show', `${branch}:landed.txt`], origin), 'landed');
  await ui.screenshot('landed');

  ui.expectConsoleError(refusedRequest(409, /\/land$/));
  await page.goto(`${server.url}/repos/noremote`);
  await page.getByRole('heading', { level: 1, name: 'noremote' }).waitFor();
  // Without a remote there is nothing to confirm: the server's reason shows at once.
  await branches.locator('tr[data-branch="main"]').getByRole('button', { name: 'Land' }).click();
  await page
    .getByRole('alert')
    .filter({ hasText: /remote/ })
    .waitFor();
  assert.equal(await outcome(ui).count(), 0, 'no success is shown');
});
