import assert from 'node:assert/strict';
import path from 'node:path';
import { api, startTestServer, tempDir } from './helpers.js';
import { seedRepo } from './queue-helpers.js';
import { section, signIn, uiTest } from './browser-helpers.js';

uiTest("repos: a repo page shows its environment from .lazyaf.yml, from the server and in effect, and a broken file's line", async (t, ui) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'a'), 'withenv', {
    'README.md': '# env\n',
    '.lazyaf.yml': 'setup: npm ci\ncache:\n  paths: [node_modules]\n  key: [package-lock.json]\nchecks:\n  test: npm test\nsecrets: [NPM_TOKEN]\n',
  });
  await seedRepo(server, path.join(dir, 'b'), 'broken', { 'README.md': '# b\n', '.lazyaf.yml': 'cache:\n  paths: [../up]\n' });
  await seedRepo(server, path.join(dir, 'c'), 'noenv');

  const { page } = ui;
  await signIn(ui, server);
  await page.goto(`${server.url}/repos/withenv`);
  const env = section(page, 'Environment');
  const file = env.locator('[data-part="file"]');
  await file.getByText('npm ci', { exact: true }).waitFor();
  await file.getByText('node_modules', { exact: true }).waitFor();
  await file.getByText('NPM_TOKEN', { exact: true }).waitFor();
  await env.locator('[data-part="server"]').getByText('no override').waitFor();
  await env.locator('[data-part="effective"]').getByText('npm test', { exact: true }).waitFor();
  await ui.screenshot('environment-file');

  // The override arrives live (repo.updated) and replaces the file's checks in effect.
  assert.equal((await api(server, 'PUT', `/api/repos/${repo.id}/environment`, { checks: { unit: 'npm run unit' } })).status, 200);
  await env.locator('[data-part="server"]').getByText('npm run unit', { exact: true }).waitFor();
  const effective = env.locator('[data-part="effective"]');
  await effective.getByText('npm run unit', { exact: true }).waitFor();
  await effective.getByText('npm test', { exact: true }).waitFor({ state: 'detached' });
  await effective.getByText('npm ci', { exact: true }).waitFor();
  await ui.screenshot('environment-override');

  await page.goto(`${server.url}/repos/broken`);
  const alert = section(page, 'Environment').getByRole('alert');
  await alert.getByText(/^\.lazyaf\.yml: cache\.paths\[0\] must be a relative path inside the checkout/).waitFor();

  await page.goto(`${server.url}/repos/noenv`);
  await section(page, 'Environment')
    .getByText(/None: jobs start on a bare checkout/)
    .waitFor();
});
