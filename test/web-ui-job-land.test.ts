import assert from 'node:assert/strict';
import path from 'node:path';
import { api, branchTip, git, startTestServer, tempDir } from './helpers.js';
import { inProcessRunners, seedRepo, submit, waitForJob } from './queue-helpers.js';
import { refusedRequest, signIn, uiTest } from './browser-helpers.js';
import { startGithub } from './forges/github.js';

const TOKEN = 'forge_tok_ui_0123456789abcdef0123456789abcdef';

uiTest("the job page: Land pushes the job's branch, Open PR opens the pull request, a landed badge links to it here and in the job list", async (t, ui) => {
  const runnerFor = inProcessRunners(t);
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo');
  const origin = path.join(dir, 'origin.git');
  await git(['init', '-q', '--bare', '--initial-branch=main', origin]);
  await git(['push', '-q', origin, 'main'], path.join(dir, 'src'));
  const forge = await startGithub(t, { token: TOKEN, project: 'acme/widgets', remote: origin });
  await api(server, 'PATCH', `/api/repos/${repo.id}`, { remote_url: origin, forge: { kind: 'github', api_url: forge.url, project: 'acme/widgets' } });
  await runnerFor(server, 'r1').registered;
  const job = await waitForJob(server, (await submit(server, { repo_id: 'demo', title: 'to land', command: 'echo a > a.txt' })).id, undefined, 60_000);
  assert.equal(job.status, 'succeeded', job.error ?? '');
  const failed = await waitForJob(server, (await submit(server, { repo_id: 'demo', title: 'fails', command: 'exit 1' })).id, undefined, 60_000);
  assert.equal(failed.status, 'failed');

  const { page } = ui;
  await signIn(ui, server);
  await page.goto(`${server.url}/jobs/${job.id}`);
  await page.getByRole('heading', { level: 1, name: 'to land' }).waitFor();
  const landButton = page.getByRole('button', { name: 'Land', exact: true });
  await landButton.waitFor();
  // In the review view, `l` goes to Land without pressing it.
  await page.getByRole('button', { name: 'Show diff' }).click();
  await page.getByRole('navigation', { name: 'Changed files' }).waitFor();
  await page.locator('body').click({ position: { x: 1, y: 1 } });
  await page.keyboard.press('l');
  await page.waitForFunction("document.activeElement?.textContent === 'Land'");
  assert.equal(await branchTip(origin, job.branch!), undefined, 'focused, not pressed');

  // Without the token, Open PR is refused before anything is pushed, and says what to set.
  ui.expectConsoleError(refusedRequest(409, /\/land$/));
  await page.getByRole('button', { name: 'Open PR' }).click();
  await page.getByRole('alert').filter({ hasText: 'LAZYAF_FORGE_TOKEN' }).waitFor();
  assert.equal(await branchTip(origin, job.branch!), undefined, 'nothing pushed');

  await landButton.click();
  const said = page.getByRole('status').filter({ hasText: /^Landed / });
  await said.waitFor();
  assert.match(await said.innerText(), new RegExp(`^Landed ${job.branch} \\(${job.commit!.slice(0, 12)}\\) on ${origin.replace(/[/.]/g, '\\$&')}$`));
  assert.equal(await branchTip(origin, job.branch!), job.commit);
  await page.locator('header .landed').getByText('landed', { exact: true }).waitFor();
  await ui.screenshot('job-landed');

  assert.equal((await api(server, 'PUT', '/api/secrets/LAZYAF_FORGE_TOKEN?repo=demo', { value: TOKEN })).status, 201);
  await page.getByRole('button', { name: 'Open PR' }).click();
  await said.getByRole('link', { name: 'pull request' }).waitFor();
  const prUrl = 'https://github.example/acme/widgets/pull/1';
  assert.equal(await said.getByRole('link', { name: 'pull request' }).getAttribute('href'), prUrl);
  assert.equal(await page.locator('header .landed').getByRole('link', { name: 'PR' }).getAttribute('href'), prUrl);
  assert.deepEqual(forge.problems, []);
  assert.equal(forge.pulls.length, 1);
  assert.ok(!(await page.content()).includes(TOKEN), 'the token is not on the page');
  await ui.screenshot('job-pr');

  // The job list shows the badge and the link.
  await page.goto(`${server.url}/`);
  const row = page.locator(`tr[data-job-id="${job.id}"]`);
  await row.getByText('landed', { exact: true }).waitFor();
  assert.equal(await row.getByRole('link', { name: 'PR' }).getAttribute('href'), prUrl);

  // A failed job offers neither.
  await page.goto(`${server.url}/jobs/${failed.id}`);
  await page.getByRole('heading', { level: 1, name: 'fails' }).waitFor();
  await page.getByRole('button', { name: 'Retry' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Land', exact: true }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Open PR' }).count(), 0);

  // Nor does a job of a repo without a remote.
  await api(server, 'PATCH', `/api/repos/${repo.id}`, { remote_url: null });
  await page.goto(`${server.url}/jobs/${job.id}`);
  await page.getByRole('heading', { level: 1, name: 'to land' }).waitFor();
  await page.getByRole('button', { name: 'Rerun' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Land', exact: true }).count(), 0);
});
