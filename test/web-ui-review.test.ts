import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import type { Page } from 'playwright-core';
import { api, eventually, ROOT, startTestServer, tempDir } from './helpers.js';
import { registerRunner, seedRepo, startRunnerProcess, submit, waitForJob } from './queue-helpers.js';
import { refusedRequest, section, signIn, uiTest, type Ui } from './browser-helpers.js';

/** A line no page may turn into markup: it would load an image and run its handler (a dialog, which fails the test). */
const HOSTILE = '<img src=x onerror=alert(1)>';
const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const writeFile = (file: string, lines: string[]) => `mkdir -p ${path.dirname(file)} && printf '%s\\n' ${lines.map(shQuote).join(' ')} > ${file}`;

const BASE_FILES = {
  'src/app.ts': 'export function add(a: number, b: number): number {\n  return a + b;\n}\n',
  'docs/guide.md': '# Guide\n\nOld words.\n',
};
// Changes src/app.ts (a hostile string in TypeScript), adds src/lib/util.ts, changes docs/guide.md
// (a removed line) and adds page.html with the hostile line as HTML.
const CHANGE = [
  writeFile('src/app.ts', [
    '// Adds two numbers.',
    'export function add(a: number, b: number): number {',
    '  return a + b;',
    '}',
    `export const banner = "${HOSTILE}";`,
  ]),
  writeFile('src/lib/util.ts', ['export const twice = (n: number): number => n * 2;']),
  writeFile('docs/guide.md', ['# Guide', '', 'New words.']),
  writeFile('page.html', [HOSTILE]),
].join(' && ');

/**
 * The comments routes come with the server's comments change: where the server has none yet, its
 * 404 is the view's "no comments" (and Chromium logs the refusal, which is not the page's error).
 */
function allowNoCommentsRoute(ui: Ui): void {
  ui.expectConsoleError(refusedRequest(404, /\/api\/jobs\/[^/]+\/comments(\?sent_to=true)?$/));
}

/** The file tree's entry for a file or folder. */
const treeEntry = (page: Page, name: string) => section(page, 'Changes').getByRole('navigation', { name: 'Changed files' }).getByRole('button', { name });

async function openDiff(page: Page): Promise<void> {
  const changes = section(page, 'Changes');
  await changes.getByRole('button', { name: 'Show diff' }).click();
  await changes.getByRole('navigation', { name: 'Changed files' }).waitFor();
}

async function changedJob(t: Parameters<Parameters<typeof uiTest>[1]>[0]) {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo', BASE_FILES);
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  const job = await waitForJob(server, (await submit(server, { repo_id: repo.id, title: 'Review me', command: CHANGE })).id);
  assert.equal(job.status, 'succeeded', job.error ?? '');
  return { server, job };
}

uiTest(
  'review: a file tree with counts that folds and jumps, unified and split (remembered), highlighting by file type, hostile lines as text, and the keys',
  async (t, ui) => {
    allowNoCommentsRoute(ui);
    const { server, job } = await changedJob(t);
    const { page } = ui;
    await signIn(ui, server);
    await page.goto(`${server.url}/jobs/${job.id}`);
    await openDiff(page);
    const changes = section(page, 'Changes');
    await changes.getByText('4 files changed').waitFor();

    // The tree: folders with their files' counts, folded and opened again.
    const src = treeEntry(page, 'src/');
    assert.equal(await src.getAttribute('aria-expanded'), 'true');
    assert.match(await src.innerText(), /\+3/, 'src/ sums the lines added in its files (2 in app.ts, 1 in util.ts)');
    assert.match(await treeEntry(page, 'guide.md').innerText(), /\+1\s*−1/);
    await src.click();
    assert.equal(await src.getAttribute('aria-expanded'), 'false');
    assert.equal(await treeEntry(page, 'app.ts').count(), 0, 'a folded folder hides its files');
    await src.click();
    await treeEntry(page, 'app.ts').waitFor();
    await treeEntry(page, 'page.html').click();
    assert.equal(await treeEntry(page, 'page.html').getAttribute('aria-current'), 'true');
    assert.equal(
      await page.evaluate(() => (globalThis as any).document.activeElement.closest('section').getAttribute('aria-label')),
      'page.html',
      'the jump lands on the file',
    );

    // Highlighting: a .ts file gets highlight.js's classes; the hostile lines stay text, in TypeScript and in HTML.
    const appTs = changes.locator('section[aria-label="src/app.ts"]');
    await appTs.locator('.hljs-keyword').first().waitFor();
    await changes.locator('section[aria-label="page.html"] .hljs-tag').first().waitFor();
    assert.equal(await changes.locator('img').count(), 0, 'no element comes of a line of the diff');
    await appTs.getByText(`export const banner = "${HOSTILE}";`).waitFor();
    await changes.locator('section[aria-label="page.html"]').getByText(HOSTILE).waitFor();
    const html = await appTs.locator('td.code.add', { hasText: 'banner' }).evaluate((el: any) => el.innerHTML as string);
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'), `escaped by the highlighter: ${html}`);
    await ui.screenshot('unified');

    // A hint, and ? lists the keys.
    await changes.getByRole('button', { name: 'Press ? for shortcuts' }).waitFor();
    await page.keyboard.press('?');
    const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await help.getByText('next file').waitFor();
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'hidden' });

    // j and k move through the files in the tree's order (docs/guide.md, src/lib/util.ts, src/app.ts,
    // page.html) from the one the tree jumped to, page.html, the last: j stays there.
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('j');
    assert.equal(await treeEntry(page, 'page.html').getAttribute('aria-current'), 'true');
    await page.keyboard.press('k');
    await page.keyboard.press('k');
    assert.equal(await treeEntry(page, 'util.ts').getAttribute('aria-current'), 'true');
    await page.keyboard.press('k');
    assert.equal(await treeEntry(page, 'guide.md').getAttribute('aria-current'), 'true');
    await page.keyboard.press('j');
    assert.equal(await treeEntry(page, 'util.ts').getAttribute('aria-current'), 'true');
    await page.keyboard.press('k');

    // s and u switch the layout; the choice outlives the page.
    await page.keyboard.press('s');
    await changes.getByRole('table', { name: 'Split diff' }).first().waitFor();
    assert.equal(await changes.getByRole('table', { name: 'Unified diff' }).count(), 0);
    await ui.screenshot('split');
    await page.reload();
    await openDiff(page);
    await changes.getByRole('table', { name: 'Split diff' }).first().waitFor();
    // Split: the removed line and the added one side by side, in one row.
    const row = changes.locator('section[aria-label="docs/guide.md"] tr', { hasText: 'Old words.' });
    assert.match(await row.innerText(), /Old words\.[\s\S]*New words\./);
    await page.keyboard.press('u');
    await changes.getByRole('table', { name: 'Unified diff' }).first().waitFor();
    await page.keyboard.press('j');
    assert.equal(await treeEntry(page, 'guide.md').getAttribute('aria-current'), 'true', 'j from no file goes to the first');

    // Keys typed in a field are the field's.
    await page.getByRole('button', { name: 'Follow up', exact: true }).click();
    const title = page.getByRole('form', { name: 'Follow up' }).getByLabel('Title');
    await title.fill('');
    await title.pressSequentially('sjk');
    assert.equal(await title.inputValue(), 'sjk');
    assert.equal(await changes.getByRole('table', { name: 'Split diff' }).count(), 0, 'an s typed in a field switches nothing');
    assert.equal(await treeEntry(page, 'guide.md').getAttribute('aria-current'), 'true');
    assert.equal(await changes.getByText('Could not load the comments').count(), 0, 'a server without comments shows none, and no error');
  },
);

uiTest('review: a big diff shows its rows as they near the view, and all of them are there to scroll to', async (t, ui) => {
  allowNoCommentsRoute(ui);
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo');
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  const job = await waitForJob(server, (await submit(server, { repo_id: repo.id, title: 'Big', command: 'seq 30000 > big.txt' })).id);
  assert.equal(job.status, 'succeeded', job.error ?? '');
  const { page } = ui;
  await signIn(ui, server);
  await page.goto(`${server.url}/jobs/${job.id}`);
  await openDiff(page);
  const big = section(page, 'Changes').locator('section[aria-label="big.txt"]');
  await big.locator('td.code', { hasText: /^\+1$/ }).waitFor();
  const shown = await big.locator('tr').count();
  assert.ok(shown < 3000, `${shown} rows in the page for a diff of 30,001: only the blocks near the view`);
  await page.keyboard.press('End');
  await big.locator('td.code', { hasText: /^\+30000$/ }).waitFor();
});

uiTest(
  'notifications: a job whose page is open notifies when it finishes (permission granted), its tab title says its status, and Notify me watches a job from any page',
  async (t, ui) => {
    const server = await startTestServer(t);
    const dir = tempDir(t);
    const repo = await seedRepo(server, path.join(dir, 'src'), 'demo');
    // No runner: the jobs wait in the queue until they are cancelled, which finishes them.
    const first = await submit(server, { repo_id: repo.id, title: 'Sleepy one', command: 'sleep 600' });
    const second = await submit(server, { repo_id: repo.id, title: 'Sleepy two', command: 'sleep 600' });
    await ui.context.grantPermissions(['notifications'], { origin: server.url });
    // A spy in place of the browser's Notification: what would have been shown.
    await ui.context.addInitScript(() => {
      const w = globalThis as any;
      const Real = w.Notification;
      w.__notes = [];
      w.Notification = class {
        static get permission() {
          return Real.permission;
        }
        static requestPermission() {
          return Real.requestPermission();
        }
        onclick = null;
        constructor(title: string, opts?: { body?: string }) {
          w.__notes.push({ title, body: opts?.body });
        }
      };
    });
    const { page } = ui;
    const notes = () => page.evaluate(() => (globalThis as any).__notes as { title: string; body: string }[]);
    await signIn(ui, server);

    await page.goto(`${server.url}/jobs/${first.id}`);
    await page.getByRole('heading', { level: 1, name: 'Sleepy one' }).waitFor();
    await eventually('the tab title says queued', async () => (await page.title()) === 'queued · Sleepy one · lazyaf');
    assert.deepEqual(await notes(), []);
    assert.equal((await api(server, 'POST', `/api/jobs/${first.id}/cancel`)).status, 200);
    await eventually('a notification for the job whose page is open', async () => (await notes()).length === 1);
    assert.deepEqual(await notes(), [{ title: 'Job cancelled', body: 'Sleepy one' }]);
    await eventually('the tab title says cancelled', async () => (await page.title()) === 'cancelled · Sleepy one · lazyaf');

    // Notify me on the second, then away to the overview: it still notifies.
    await page.goto(`${server.url}/jobs/${second.id}`);
    await page.getByRole('button', { name: 'Notify me when it finishes' }).click();
    await page.getByRole('button', { name: 'Notifying when it finishes' }).waitFor();
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Runners', exact: true }).waitFor();
    assert.equal(await page.title(), 'lazyaf');
    assert.equal((await api(server, 'POST', `/api/jobs/${second.id}/cancel`)).status, 200);
    await eventually('a notification for the job with Notify me on', async () => (await notes()).length === 1);
    assert.deepEqual((await notes())[0], { title: 'Job cancelled', body: 'Sleepy two' });
  },
);

// Runs once the server has the comments routes (the comments change): it cannot pass without them.
uiTest(
  'review comments (needs the server comments routes): comment on a line, c on a focused line, n to a comment, resolve, delete, send to the agent',
  async (t, ui) => {
    const { server, job } = await changedJob(t);
    // A runner that offers an agent, so a command job's comments have one to go to.
    await registerRunner(server as never, 'agent-runner', [], ['claude']);
    const { page } = ui;
    await signIn(ui, server);
    await page.goto(`${server.url}/jobs/${job.id}`);
    await openDiff(page);
    const changes = section(page, 'Changes');
    const appTs = changes.locator('section[aria-label="src/app.ts"]');

    // Click a line's number, write, save.
    await appTs.getByRole('button', { name: 'Comment on line 1', exact: true }).click();
    await appTs.getByLabel('Comment on src/app.ts line 1').fill('Say why, not what.');
    await appTs.getByRole('button', { name: 'Save comment' }).click();
    await appTs.getByRole('note', { name: 'Comment' }).filter({ hasText: 'Say why, not what.' }).waitFor();

    // c on a focused line's number.
    await appTs.getByRole('button', { name: 'Comment on line 5', exact: true }).focus();
    await page.keyboard.press('c');
    await appTs.getByLabel('Comment on src/app.ts line 5').fill(`Hostile text stays text: ${HOSTILE}`);
    await appTs.getByRole('button', { name: 'Save comment' }).click();
    await appTs.getByText(`Hostile text stays text: ${HOSTILE}`).waitFor();
    assert.equal(await changes.locator('img').count(), 0);

    // A third, on the removed line of another file (the base's side).
    const guide = changes.locator('section[aria-label="docs/guide.md"]');
    await guide.getByRole('button', { name: 'Comment on line 3', exact: true }).first().click();
    await guide.getByRole('textbox').fill('Keep the old words?');
    await guide.getByRole('button', { name: 'Save comment' }).click();
    await changes.getByRole('button', { name: 'Send 3 comments to the agent' }).waitFor();

    // n goes to the first comment, then the next.
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('n');
    assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement.textContent.includes('Keep the old words?')), true);
    await page.keyboard.press('n');
    assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement.textContent.includes('Say why, not what.')), true);

    // Resolve one (folded away), delete another.
    await guide.getByRole('button', { name: 'Resolve' }).click();
    await guide.getByText('Resolved comment').waitFor();
    await changes.getByRole('button', { name: 'Send 2 comments to the agent' }).waitFor();
    await appTs.getByRole('note', { name: 'Comment' }).filter({ hasText: 'Hostile text' }).getByRole('button', { name: 'Delete' }).click();
    await changes.getByRole('button', { name: 'Send 1 comment to the agent' }).waitFor();
    const listed = await api(server, 'GET', `/api/jobs/${job.id}/comments`);
    assert.equal(listed.body.total, 2);

    // Send: the follow-up's page opens.
    await changes.getByRole('button', { name: 'Send 1 comment to the agent' }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/jobs/') && !url.pathname.endsWith(job.id));
    const followupId = decodeURIComponent(new URL(page.url()).pathname.slice('/jobs/'.length));
    const followup = await api(server, 'GET', `/api/jobs/${followupId}`);
    assert.equal(followup.body.agent, 'claude');
  },
);

test('the first page loads at most 100 KB of JavaScript (gzip), and the review view and its highlighter are not part of it', () => {
  const web = path.join(ROOT, 'dist', 'web');
  const html = fs.readFileSync(path.join(web, 'index.html'), 'utf8');
  const scripts = [...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"|<link\b[^>]*\brel="modulepreload"[^>]*\bhref="([^"]+)"/g)].map((m) => (m[1] ?? m[2])!);
  assert.ok(scripts.length > 0, 'index.html loads a script');
  let gzip = 0;
  for (const src of scripts) {
    const body = fs.readFileSync(path.join(web, src));
    gzip += zlib.gzipSync(body, { level: 9 }).length;
    assert.doesNotMatch(body.toString(), /registerLanguage|hljs-/, `${src} holds none of highlight.js`);
  }
  assert.ok(gzip <= 100_000, `initial JS ${gzip} bytes gzip`);
});
