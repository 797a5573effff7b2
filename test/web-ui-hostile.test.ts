import assert from 'node:assert/strict';
import path from 'node:path';
import { authUrl, git, startTestServer, tempDir } from './helpers.js';
import { seedRepo, startRunnerProcess, submit, waitForJob } from './queue-helpers.js';
import { section, signIn, uiTest } from './browser-helpers.js';

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

// Trojan Source (CVE-2021-42574): bidirectional controls make text read otherwise than it is.
const RLO = '\u202e';
const LRI = '\u2066';
const PDI = '\u2069';
/** Shown as `if (accessLevel != "user") { // Check if admin`: the comment sits inside the string. */
const TROJAN_LINE = `if (accessLevel != "user${RLO} ${LRI}// Check if admin${PDI} ${LRI}") {`;
const BIDI_FILE = `invoice${RLO}txt.sh`;
const BIDI_BRANCH = `fix-${RLO}evil`;
/** Every character the page must show as a marker, never raw. */
const HIDDEN = /[\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;
const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

uiTest(
  'hidden text: bidirectional and invisible characters in a title, a command, a log, a diff, file and branch names show as markers, with a warning',
  async (t, ui) => {
    const server = await startTestServer(t);
    const dir = tempDir(t);
    const repo = await seedRepo(server, path.join(dir, 'src'), 'demo');
    // A branch with a bidi override in its name, which the job starts from.
    await git(['push', '-q', authUrl(repo.clone_url, server.token), `main:refs/heads/${BIDI_BRANCH}`], path.join(dir, 'src'));
    startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
    const command = [
      `printf '%s\\n' ${shQuote(TROJAN_LINE)} '    console.log("You are an admin.");' '}' > access.js`,
      `touch ${shQuote(BIDI_FILE)}`,
      `printf '%s\\n' ${shQuote(`log says ${RLO}olleh and zero${'\u200b'}width`)}`,
    ].join('; ');
    const title = `Pay ${RLO}fdp.exe invoice`;
    const job = await submit(server, { repo_id: repo.id, title, description: `a description ${LRI}isolated${PDI}`, command, base_branch: BIDI_BRANCH });
    const done = await waitForJob(server, job.id, undefined, 60_000);
    assert.equal(done.status, 'succeeded', done.error ?? '');
    const { page } = ui;
    await signIn(ui, server);

    const row = page.locator(`tr[data-job-id="${job.id}"]`);
    await row.getByText('Pay <U+202E>fdp.exe invoice').waitFor();
    await row.getByRole('link').click();
    await page.waitForURL(`${server.url}/jobs/${job.id}`);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Pay <U+202E>fdp.exe invoice');
    await page.getByText('This job contains bidirectional Unicode text').waitFor();
    await page.getByText('a description <U+2066>isolated<U+2069>').waitFor();
    await page.getByText(`fix-<U+202E>evil`).first().waitFor();

    const log = page.getByRole('log', { name: 'Log' });
    await log.getByText('log says <U+202E>olleh and zero<U+200B>width').waitFor();
    await page.getByText('This log contains bidirectional Unicode text').waitFor();

    const changes = section(page, 'Changes');
    await changes.getByRole('button', { name: 'Show diff' }).click();
    const files = changes.getByRole('navigation', { name: 'Changed files' });
    await files.getByText('invoice<U+202E>txt.sh').waitFor();
    const diff = changes.getByLabel('Unified diff');
    await diff.getByText('+if (accessLevel != "user<U+202E> <U+2066>// Check if admin<U+2069> <U+2066>") {').waitFor();
    // The warning stands before the file it is about, not before the other ones.
    await changes.locator('section[aria-label="access.js"]').getByText('This file contains bidirectional Unicode text').waitFor();
    assert.equal(await changes.getByText('This file contains bidirectional Unicode text').count(), 1);
    await ui.screenshot('job');

    const shown = (await page.evaluate('document.body.innerText')) as string;
    assert.doesNotMatch(shown, HIDDEN, 'no hidden character reaches the page raw');
    assert.ok(shown.includes('<U+202E>'), 'the markers are part of the visible text');

    await page.goto(`${server.url}/repos/demo`);
    await page.getByRole('table', { name: 'Branches' }).getByText('fix-<U+202E>evil').waitFor();
    assert.doesNotMatch((await page.evaluate('document.body.innerText')) as string, HIDDEN);
  },
);
