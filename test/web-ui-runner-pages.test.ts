import assert from 'node:assert/strict';
import { api, eventually, startTestServer } from './helpers.js';
import { signIn, uiTest } from './browser-helpers.js';
import { registerRunner } from './queue-helpers.js';
import type { RunnerList } from '../src/shared/api.js';

uiTest('runners: a fleet of 250 is shown 100 rows at a time, Older and Newer turn the pages, the counts at the top are of all', async (t, ui) => {
  const server = await startTestServer(t, { LAZYAF_REGISTER_BURST: '1000' });
  for (let i = 0; i < 250; i++) await registerRunner(server, `fleet-${String(i).padStart(3, '0')}`);
  const { page } = ui;
  await signIn(ui, server);

  const rows = page.locator('tr[data-runner-id]');
  const range = page.getByTestId('runner-range');
  const older = page.getByRole('button', { name: 'Older' });
  const newer = page.getByRole('button', { name: 'Newer' });
  const shown = async () => new Set(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-runner-id')!)));

  await range.getByText('Runners 1–100 of 250, newest first').waitFor();
  assert.equal(await rows.count(), 100);
  assert.ok(await newer.isDisabled());
  const stats = page.locator('dl');
  await eventually('the counts are of every runner', async () => (await stats.locator('dt:text-is("Total") + dd').innerText()).trim() === '250');
  assert.equal((await stats.locator('dt:text-is("Idle") + dd').innerText()).trim(), '250');
  const first = await shown();
  const newest = (await api<RunnerList>(server, 'GET', '/api/runners?limit=100')).body.runners.map((r) => r.id);
  assert.deepEqual(first, new Set(newest));

  await older.click();
  await range.getByText('Runners 101–200 of 250, newest first').waitFor();
  // One registering now is the newest: the first page's, not this one's.
  const late = await registerRunner(server, 'late');
  await stats.locator('dt:text-is("Total") + dd').getByText('251').waitFor();
  const second = await shown();
  assert.equal(second.size, 100);
  assert.ok(![...second].some((id) => first.has(id)), 'no runner on both pages');
  assert.ok(!second.has(late.runner_id));

  await older.click();
  await range.getByText(/^Runners 201–250 of 25[01], newest first$/).waitFor();
  const third = await shown();
  assert.equal(third.size, 50);
  assert.ok(await older.isDisabled(), 'the last page');
  assert.equal(new Set([...first, ...second, ...third]).size, 250, 'every runner of the fleet on one page');

  await newer.click();
  await newer.click();
  await range.getByText('Runners 1–100 of 251, newest first').waitFor();
  await rows.and(page.locator(`[data-runner-id="${late.runner_id}"]`)).waitFor();
  await ui.screenshot('runner-pages');
});
