import assert from 'node:assert/strict';
import path from 'node:path';
import { startTestServer, tempDir } from './helpers.js';
import { seedRepo, submit } from './queue-helpers.js';
import { connection, refusedRequest, signIn, uiTest } from './browser-helpers.js';

uiTest('reconnect: the page says disconnected while the server is down, then live again, and shows what happened since', async (t, ui) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  let server = await startTestServer(t, {}, { dataDir: data });
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo');
  const before = await submit(server, { repo_id: repo.id, title: 'before the restart', command: 'true' });
  const { page } = ui;
  await signIn(ui, server);
  await connection(page).filter({ hasText: 'live' }).waitFor();
  await page.locator(`tr[data-job-id="${before.id}"]`).waitFor();

  // A mark on the page: it is still there at the end only if nothing reloaded the page.
  await page.evaluate('window.__sameDocument = true');

  // While the server is down the browser logs each failed attempt to reopen the stream, and to
  // ask whether the session still holds (how the page tells a dropped stream from a signed-out one).
  // Most are refused; one that races the shutdown is reset instead (the kernel resets a connection
  // still waiting in the closed listener's queue when the process exits), or answered 503 by the
  // closing server. A list the page was still reading (the repos, read once more when the stream
  // opened) is refused the same way: Chromium retries a request whose kept-alive connection the
  // closing server dropped, and the retry finds nobody listening. The page treats them all alike,
  // and the test is about what it does next.
  const api = /\/api\/(events|session|repos|jobs)(\?[^/]*)?$/;
  ui.expectConsoleError({ text: /^Failed to load resource: net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|CONNECTION_CLOSED|EMPTY_RESPONSE)$/, url: api });
  ui.expectConsoleError(refusedRequest(503, api));
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
  await connection(page).filter({ hasText: 'disconnected' }).waitFor();
  await ui.screenshot('disconnected');

  server = await startTestServer(t, {}, { dataDir: data, port: server.port });
  await connection(page).filter({ hasText: 'live' }).waitFor();
  const after = await submit(server, { repo_id: repo.id, title: 'after the restart', command: 'true' });
  const row = page.locator(`tr[data-job-id="${after.id}"]`);
  await row.getByText('after the restart').waitFor();
  assert.equal(await page.getByLabel('Admin token').count(), 0, 'still signed in: the session outlived the restart');
  assert.equal(await page.evaluate('window.__sameDocument'), true, 'the page was not reloaded');
});
