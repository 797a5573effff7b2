import assert from 'node:assert/strict';
import path from 'node:path';
import type { PoolState, RunnerList } from '../src/shared/api.js';
import { api, eventually, startTestServer, tempDir } from './helpers.js';
import { signIn, uiTest } from './browser-helpers.js';

uiTest('runners: Add runner and Remove runner change the pool, and the runner list follows', async (t, ui) => {
  const dir = tempDir(t);
  const server = await startTestServer(t, {}, { dataDir: path.join(dir, 'data'), runners: 0 });
  const { page } = ui;
  await signIn(ui, server);

  const list = page.getByRole('table', { name: 'Runner list' });
  const rows = page.locator('tr[data-runner-id]');
  await page.getByText('No runners yet').waitFor();
  await page.getByText('desired 0').waitFor();
  await ui.screenshot('empty');

  await page.getByRole('button', { name: 'Add runner' }).click();
  await page.getByText('desired 1').waitFor();
  await list.waitFor();
  await rows.first().getByText('idle', { exact: true }).waitFor();
  await page.getByRole('button', { name: 'Add runner' }).click();
  await page.getByText('desired 2').waitFor();
  await eventually('two idle runner rows', async () => (await rows.filter({ hasText: 'idle' }).count()) === 2);
  const pool = (await api<PoolState>(server, 'GET', '/api/pool')).body;
  assert.equal(pool.desired, 2);
  // Each row is a runner the server knows, named as it names it.
  const runners = (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.filter((r) => r.status !== 'offline');
  assert.equal(runners.length, 2);
  for (const r of runners)
    await rows
      .and(page.locator(`[data-runner-id="${r.id}"]`))
      .getByText(r.name)
      .waitFor();
  const stats = page.locator('dl');
  await stats.locator('dt', { hasText: /^Idle$/ }).waitFor();
  assert.equal((await stats.locator('dt:text-is("Idle") + dd').innerText()).trim(), '2');
  await ui.screenshot('two-runners');

  await page.getByRole('button', { name: 'Remove runner' }).click();
  await page.getByText('desired 1').waitFor();
  // The drained runner leaves the list (or stays as offline, as a runner that left may).
  await eventually('one live runner row left', async () => (await rows.filter({ hasNotText: 'offline' }).count()) === 1, 60_000);
  assert.equal((await api<PoolState>(server, 'GET', '/api/pool')).body.desired, 1);
});
