import assert from 'node:assert/strict';
import { startTestServer } from './helpers.js';
import { signIn, uiTest } from './browser-helpers.js';

uiTest('docker dialog: Copy gives the command with placeholders, Copy with secrets fetches and gives the real token', async (t, ui) => {
  const server = await startTestServer(t);
  const { page } = ui;
  const asked: string[] = [];
  page.on('request', (req) => {
    if (req.url().includes('/api/runners/docker-command')) asked.push(req.url());
  });
  await signIn(ui, server);

  await page.getByRole('button', { name: 'Docker command' }).click();
  const dialog = page.getByRole('dialog', { name: 'Docker command' });
  await dialog.waitFor();
  const shown = dialog.locator('pre');
  await shown.getByText(/docker run/).waitFor();
  assert.ok(!(await shown.innerText()).includes(server.registrationToken), 'the dialog shows no secret');
  assert.ok(!asked.some((u) => u.includes('with_secrets=true')), `nothing asked for the secrets before the click: ${asked.join(', ')}`);

  await dialog.getByRole('button', { name: 'Copy', exact: true }).click();
  await dialog
    .getByRole('status')
    .filter({ hasText: /^Copied$/ })
    .waitFor();
  const plain = (await page.evaluate('navigator.clipboard.readText()')) as string;
  assert.match(plain, /^docker run /);
  assert.match(plain, /<LAZYAF_REGISTRATION_TOKEN>/);
  assert.ok(!plain.includes(server.registrationToken), 'the plain copy holds no registration token');
  await ui.screenshot('copied');

  await dialog.getByRole('button', { name: 'Copy with secrets' }).click();
  await dialog.getByRole('status').filter({ hasText: 'Copied with secrets' }).waitFor();
  const secret = (await page.evaluate('navigator.clipboard.readText()')) as string;
  assert.match(secret, /^docker run /);
  assert.ok(secret.includes(server.registrationToken), 'the copy with secrets holds the registration token');
  assert.ok(!secret.includes('<LAZYAF_REGISTRATION_TOKEN>'));
  assert.ok(
    asked.some((u) => u.includes('with_secrets=true')),
    'the secrets were fetched on the click',
  );
  assert.ok(!(await dialog.innerText()).includes(server.registrationToken), 'the secrets go to the clipboard, not onto the screen');
  await ui.screenshot('copied-with-secrets');

  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  await page.getByRole('button', { name: 'Docker command' }).click();
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'hidden' });
});
