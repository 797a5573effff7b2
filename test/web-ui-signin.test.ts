import assert from 'node:assert/strict';
import path from 'node:path';
import { SESSION_COOKIE, SIGNIN_FRAGMENT } from '../src/shared/session.js';
import type { SignInLink } from '../src/shared/api.js';
import { api, cli, startTestServer, tempDir } from './helpers.js';
import { refusedRequest, signIn, uiTest } from './browser-helpers.js';

uiTest('sign-in: a wrong token is refused, the right one opens the overview with an HttpOnly cookie, sign out returns to the form', async (t, ui) => {
  const server = await startTestServer(t);
  const { page } = ui;
  ui.expectConsoleError(refusedRequest(401, /\/api\/session$/));

  await ui.open(server.url);
  await page.getByLabel('Admin token').fill('lzadm_not_the_token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'wrong admin token' }).waitFor();
  assert.equal(await page.getByLabel('Admin token').getAttribute('type'), 'password');
  await ui.screenshot('wrong-token');

  await signIn(ui, server);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  const cookies = await ui.context.cookies(server.url);
  const session = cookies.find((c) => c.name === SESSION_COOKIE);
  assert.ok(session, `the ${SESSION_COOKIE} cookie is set`);
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.ok(!((await page.evaluate('document.cookie')) as string).includes(SESSION_COOKIE), 'the page script cannot read the session cookie');
  await ui.screenshot('signed-in');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin token').waitFor();
  assert.equal(
    (await ui.context.cookies(server.url)).find((c) => c.name === SESSION_COOKIE),
    undefined,
    'sign out clears the cookie',
  );
  // The session is over on the server too: a reload shows the form, not the overview.
  await page.reload();
  await page.getByLabel('Admin token').waitFor();
});

uiTest('sign-in: the one-click link of lazyaf ui signs in once and leaves no code in the address bar', async (t, ui) => {
  const dir = tempDir(t);
  const server = await startTestServer(t, {}, { dataDir: path.join(dir, 'data') });
  const made = await cli(['ui'], { env: { LAZYAF_SERVER: server.url, LAZYAF_TOKEN: server.token } });
  assert.equal(made.code, 0, made.stderr);
  const link = made.stdout.trim();
  assert.ok(link.startsWith(`${server.url}/#${SIGNIN_FRAGMENT}=`), link);
  const { page } = ui;
  ui.expectConsoleError(refusedRequest(401, /\/api\/session$/));

  await ui.open(link);
  await page.getByRole('heading', { name: 'Runners', exact: true }).waitFor();
  assert.ok(!page.url().includes(SIGNIN_FRAGMENT), `the code is gone from the address bar: ${page.url()}`);
  await ui.screenshot('signed-in-by-link');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin token').waitFor();
  // The link opened again, as from a new tab: refused.
  await page.goto('about:blank');
  await page.goto(link);
  await page.getByRole('alert').filter({ hasText: 'this sign-in link was already used or has expired' }).waitFor();
  await page.getByLabel('Admin token').waitFor();
  assert.ok(!page.url().includes(SIGNIN_FRAGMENT), page.url());
  await ui.screenshot('link-used');

  // A fresh link (as `lazyaf ui` prints one) pasted into this same tab: only the fragment changes, and it signs in.
  const fresh = await api<SignInLink>(server, 'POST', '/api/session/links');
  assert.equal(fresh.status, 201, JSON.stringify(fresh.body));
  await page.goto(fresh.body.url);
  await page.getByRole('heading', { name: 'Runners', exact: true }).waitFor();
  assert.ok(!page.url().includes(SIGNIN_FRAGMENT), page.url());
});
