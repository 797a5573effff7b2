import assert from 'node:assert/strict';
import path from 'node:path';
import { startTestServer, tempDir } from './helpers.js';
import { seedRepo, startRunnerProcess, submit, waitForJob } from './queue-helpers.js';
import { signIn, uiTest } from './browser-helpers.js';

const TITLE = '<img src=x onerror=alert(1)><script>window.__pwned=1</script>';
const DESCRIPTION = '<iframe src="javascript:alert(2)"></iframe>{@html x}';
// Markup in the output, a colour around more markup, and a terminal hyperlink (OSC 8) to javascript:.
const COMMAND = [
  "printf '%s\\n' '<script>window.__pwned=2</script><b>bold?</b>'",
  "printf '\\033[32m<img src=y onerror=alert(3)>\\033[0m\\n'",
  "printf '\\033]8;;javascript:alert(4)\\033\\\\click me\\033]8;;\\033\\\\\\n'",
  "printf 'the end\\n'",
].join('; ');

uiTest('hostile text: HTML and script in a title and a log are shown as text and never run', async (t, ui) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo');
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  const job = await submit(server, { repo_id: repo.id, title: TITLE, description: DESCRIPTION, command: COMMAND });
  assert.equal((await waitForJob(server, job.id, undefined, 60_000)).status, 'succeeded');
  const { page } = ui;
  await signIn(ui, server);

  const row = page.locator(`tr[data-job-id="${job.id}"]`);
  await row.getByText(TITLE).waitFor();
  await ui.screenshot('list');
  await row.getByRole('link', { name: TITLE }).click();
  await page.waitForURL(`${server.url}/jobs/${job.id}`);
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), TITLE);
  await page.getByText(DESCRIPTION).waitFor();
  const log = page.getByRole('log', { name: 'Log' });
  await log.getByText('the end').waitFor();
  const text = await log.innerText();
  assert.ok(text.includes('<script>window.__pwned=2</script><b>bold?</b>'), text);
  assert.ok(text.includes('<img src=y onerror=alert(3)>'), text);
  assert.ok(text.includes('click me'), text);

  assert.equal(await page.evaluate('typeof window.__pwned'), 'undefined');
  assert.equal(await page.locator('img[src="x"], img[src="y"], iframe, main script').count(), 0, 'no element came from the job');
  assert.equal(await log.locator('b, img, script').count(), 0, 'no element came from the log');
  assert.equal(await page.locator('a[href^="javascript:" i]').count(), 0, 'no javascript: link');
});
