import assert from 'node:assert/strict';
import path from 'node:path';
import type { Task, TaskCreated } from '../src/shared/api.js';
import { api, startTestServer, tempDir } from './helpers.js';
import { inProcessRunners, seedRepo } from './queue-helpers.js';
import { signIn, uiTest } from './browser-helpers.js';

uiTest(
  'task page: the candidates side by side, live as they run, and Pick marks one picked and the others discarded; a job links to its task',
  async (t, ui) => {
    const start = inProcessRunners(t);
    const server = await startTestServer(t);
    const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
    const created = await api<TaskCreated>(server, 'POST', '/api/tasks', {
      repo_id: repo.id,
      title: 'Answer the question',
      command: 'echo "$LAZYAF_JOB_ID" > answer.txt',
      count: 2,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const [a, b] = created.body.jobs.map((j) => j.id) as [string, string];

    const { page } = ui;
    await signIn(ui, server);
    await page.goto(`${server.url}/tasks/${created.body.id}`);
    await page.getByRole('heading', { level: 1, name: 'Answer the question' }).waitFor();
    const candidates = page.getByRole('list', { name: 'Candidates' });
    const first = candidates.locator(`li[data-job="${a}"]`);
    const second = candidates.locator(`li[data-job="${b}"]`);
    // No runner yet: both wait, and neither can be picked.
    await first.getByText('queued', { exact: true }).waitFor();
    await second.getByText('queued', { exact: true }).waitFor();
    assert.equal(await candidates.getByRole('button', { name: 'Pick' }).count(), 0);

    // Runners come: the page follows the candidates to their end without a reload.
    start(server, 'r1');
    start(server, 'r2');
    for (const c of [first, second]) {
      await c.getByText('succeeded', { exact: true }).waitFor({ timeout: 60_000 });
      await c.locator('dd.changes').getByText('1 file').waitFor();
      await c.locator('dd.changes .add').getByText('+1').waitFor();
      await c.getByRole('button', { name: 'Pick' }).waitFor();
    }
    await page.getByText('finished', { exact: true }).waitFor();
    await ui.screenshot('candidates');

    await second.getByRole('button', { name: 'Pick' }).click();
    await second.getByText('picked', { exact: true }).waitFor();
    await first.getByText('discarded', { exact: true }).waitFor();
    assert.equal(await candidates.getByRole('button', { name: 'Pick' }).count(), 0, 'no second pick offered');
    const task = (await api<Task>(server, 'GET', `/api/tasks/${created.body.id}`)).body;
    assert.equal(task.picked_job_id, b);

    // The discarded job's page says so and links back to its task.
    await first.getByRole('link', { name: a.slice(0, 8) }).click();
    await page.getByRole('heading', { level: 1, name: 'Answer the question' }).waitFor();
    const back = page.getByRole('link', { name: `candidate of task ${created.body.id.slice(0, 8)}` });
    await back.waitFor();
    await page.locator('dd').getByText('discarded', { exact: true }).waitFor();
    await back.click();
    await candidates.waitFor();
    assert.match(page.url(), new RegExp(`/tasks/${created.body.id}$`));
  },
);
