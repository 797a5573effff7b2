import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type { Locator } from 'playwright-core';
import { buildApp } from '../src/server/app.js';
import { resolveServerConfig } from '../src/server/config.js';
import { outwardAddress } from '../src/server/pool/docker-command.js';
import { removeRelayDirAfter, startTestServer, tempDir } from './helpers.js';
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

/** The dialog's command as shown: its lines, and how many lines the browser lays it out on. */
async function shownCommand(dialog: Locator): Promise<{ lines: string[]; rendered: number }> {
  const pre = dialog.locator('pre');
  await pre.getByText(/docker run/).waitFor();
  const lines = (await pre.innerText()).split('\n');
  // Runs in the page: one client rect per line box the text is laid out on.
  const rendered = await pre.evaluate((el) => {
    const doc = (el as { ownerDocument: { createRange: () => any } }).ownerDocument;
    const range = doc.createRange();
    range.selectNodeContents(el);
    return new Set([...range.getClientRects()].map((r: { top: number }) => Math.round(r.top))).size;
  });
  return { lines, rendered };
}

uiTest(
  'docker dialog: one argument group per line, never wrapped inside a flag; it names the image to pull or build, and says a loopback URL works only here',
  async (t, ui) => {
    const server = await startTestServer(t, { LAZYAF_JOB_MEMORY: '1g' });
    const { page } = ui;
    // A narrow window, where the one-line command wrapped at a flag's hyphen.
    await page.setViewportSize({ width: 560, height: 900 });
    await signIn(ui, server);
    await page.getByRole('button', { name: 'Docker command' }).click();
    const dialog = page.getByRole('dialog', { name: 'Docker command' });
    const { lines, rendered } = await shownCommand(dialog);
    assert.ok(lines.length > 4, lines.join('\n'));
    assert.match(lines[0]!, /^docker run -d --name lazyaf-runner-[0-9a-f]{4} --init --restart unless-stopped \\$/);
    for (const line of lines.slice(1))
      assert.match(line, /^ {2}(-e \S+|-v \S+|--cap-add \S+|--network host|--pids-limit \d+ --memory \d+m|lazyaf-runner:latest)( \\)?$/, line);
    assert.equal(rendered, lines.length, 'the browser wraps no line');
    await dialog.getByText('The machine that runs it needs the image lazyaf-runner:latest').waitFor();
    await dialog.getByText(/this machine's loopback: it works only on the machine the server runs on/).waitFor();
    await dialog.getByText(/listens on 127\.0\.0\.1 only, so no other machine can reach it.*LAZYAF_HOST=0\.0\.0\.0/).waitFor();
    assert.equal(await dialog.getByRole('radio').count(), 0, 'no command for another machine to choose');
    await ui.screenshot('narrow');
  },
);

uiTest('docker dialog: a server listening on every interface offers the command for another machine, with an address of this one', async (t, ui) => {
  // Built as LAZYAF_HOST=0.0.0.0 configures it, while the test listens on loopback only.
  const dataDir = tempDir(t, 'lazyaf-data-');
  removeRelayDirAfter(t, dataDir);
  const built = await buildApp(resolveServerConfig({ data: dataDir, host: '0.0.0.0', port: 0, runners: 0 }, {}));
  await built.app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => built.app.close());
  const port = (built.app.server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const address = outwardAddress(os.networkInterfaces());
  const { page } = ui;
  await signIn(ui, { url, token: built.ctx.adminToken });
  await page.getByRole('button', { name: 'Docker command' }).click();
  const dialog = page.getByRole('dialog', { name: 'Docker command' });
  await shownCommand(dialog);
  await dialog.getByText(/works only on the machine the server runs on/).waitFor();
  if (!address) {
    await dialog.getByText(/no network address other than loopback/).waitFor();
    return t.skip('this machine has no address but loopback');
  }
  const host = address.includes(':') ? `[${address}]` : address;
  await dialog.getByRole('radio', { name: /another machine/ }).check();
  const { lines, rendered } = await shownCommand(dialog);
  assert.ok(lines.includes(`  -e LAZYAF_SERVER=http://${host}:${port} \\`), lines.join('\n'));
  assert.ok(!lines.some((l) => l.includes(' -v ') || l.includes('--network host')), 'nothing of this machine in the other machine’s command');
  assert.equal(rendered, lines.length);
  await dialog.getByRole('button', { name: 'Copy', exact: true }).click();
  await dialog
    .getByRole('status')
    .filter({ hasText: /^Copied$/ })
    .waitFor();
  const copied = (await page.evaluate('navigator.clipboard.readText()')) as string;
  assert.ok(copied.includes(`LAZYAF_SERVER=http://${host}:${port}`), copied);
  await ui.screenshot('another-machine');
});
