// The one home for Chromium: launching Debian's chromium through playwright-core (the browser
// tests and bench/ui.ts), a page that fails its test on any console or page error, the screenshot
// each test leaves, and signing in through the form. A browser test file imports this beside
// helpers.ts; it does not import helpers.ts itself, so that the bench can use it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = fileURLToPath(new URL('../test-results/screenshots', import.meta.url));

/** Flags that work on these machines (no GPU, no sandbox inside containers, nothing phoning home). */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Every wait of a page (a locator, a navigation): generous for a loaded machine, never unbounded. */
export const UI_TIMEOUT_MS = 30_000;

/** A console error a test expects, matched on both its text and the URL it came from. */
export interface ExpectedConsoleError {
  text: RegExp;
  url: RegExp;
}

/** The browser's answer to a request the server refused: Chromium logs every non-2xx fetch as a console error. */
export function refusedRequest(status: number, urlPath: RegExp): ExpectedConsoleError {
  return { text: new RegExp(`^Failed to load resource: the server responded with a status of ${status} `), url: urlPath };
}

export interface Ui {
  context: BrowserContext;
  page: Page;
  /** Console errors, page errors and dialogs seen so far: the test fails if any is left at its end. */
  problems: string[];
  /** Lets one kind of console error through for the rest of the test (an expected refusal). */
  expectConsoleError: (expected: ExpectedConsoleError) => void;
  /** Opens `url` after granting its origin clipboard access. */
  open: (url: string) => Promise<void>;
  /** Saves the page as test-results/screenshots/<test>[-<step>].png and returns the file. */
  screenshot: (step?: string) => Promise<string>;
}

function fileName(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 80);
}

/**
 * A browser test: `fn` gets a fresh Chromium (its own empty profile) and page. Whatever happens,
 * the page is saved as a screenshot when `fn` ends (while its server still runs), then the test
 * fails on any console error, page error or dialog it did not expect; the browser is closed when
 * the test ends. Without /usr/bin/chromium the test is skipped, except under CI, where it fails.
 */
export function uiTest(name: string, fn: (t: TestContext, ui: Ui) => Promise<void>): void {
  test(name, async (t) => {
    if (!fs.existsSync(CHROMIUM)) {
      if (process.env.CI) assert.fail(`${CHROMIUM} is missing: CI must run the browser tests (apt-get install chromium)`);
      t.skip(`${CHROMIUM} is missing: install Debian's chromium to run the browser tests`);
      return;
    }
    const ui = await launch(t, name);
    try {
      await fn(t, ui);
    } finally {
      await ui.screenshot().catch((err: Error) => process.stderr.write(`screenshot of "${name}" failed: ${err.message}\n`));
    }
    assert.deepEqual(ui.problems, [], 'no console errors, page errors or dialogs');
  });
}

/** Chromium with `profile` (a new empty dir) as its user-data dir, a laptop-sized window, and every wait bounded. */
export async function launchChromium(profile: string): Promise<BrowserContext> {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
    timeout: UI_TIMEOUT_MS,
  });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(UI_TIMEOUT_MS);
  return context;
}

async function launch(t: TestContext, name: string): Promise<Ui> {
  // The profile dir is removed after the browser that writes into it is closed, by the same hook.
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lazyaf-chromium-'));
  let context: BrowserContext | undefined;
  t.after(async () => {
    await context?.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });
  context = await launchChromium(profile);
  const page = context.pages()[0] ?? (await context.newPage());

  const problems: string[] = [];
  const expected: ExpectedConsoleError[] = [];
  page.on('console', (msg: ConsoleMessage) => {
    if (msg.type() !== 'error') return;
    const url = msg.location().url;
    if (expected.some((e) => e.text.test(msg.text()) && e.url.test(url))) return;
    problems.push(`console error: ${msg.text()} (${url})`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('dialog', (dialog) => {
    problems.push(`dialog ${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss().catch(() => {});
  });

  return {
    context,
    page,
    problems,
    expectConsoleError: (e) => expected.push(e),
    async open(url) {
      await context!.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(url).origin });
      await page.goto(url);
    },
    async screenshot(step) {
      fs.mkdirSync(SCREENSHOTS, { recursive: true });
      const file = path.join(SCREENSHOTS, `${fileName(name)}${step ? `-${fileName(step)}` : ''}.png`);
      // Chromium cannot capture a page hundreds of thousands of pixels tall (a 20,000-entry
      // transcript's placeholders): such a page is saved as the window shows it.
      const tall = await page.evaluate('document.documentElement.scrollHeight > 16000').catch(() => false);
      await page.screenshot({ path: file, fullPage: !tall, timeout: UI_TIMEOUT_MS });
      return file;
    },
  };
}

/** Signs in through the form with `token` and waits for the overview (the Runners heading). */
export async function signIn(ui: Ui, server: { url: string; token: string }): Promise<void> {
  await ui.open(server.url);
  await signInOnPage(ui.page, server.token);
}

/** Signs in on a page that shows the sign-in form. */
export async function signInOnPage(page: Page, token: string): Promise<void> {
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Runners', exact: true }).waitFor();
}

/** The connection indicator's word: "live", "connecting" or "disconnected". */
export function connection(page: Page) {
  return page.getByRole('status', { name: 'Connection' });
}

/** A `<section>` by its heading's text (Attempts, Changes). */
export function section(page: Page, heading: string) {
  return page.locator('section').filter({ has: page.getByRole('heading', { name: heading, exact: true }) });
}
