import { startTestServer } from './helpers.js';
import { uiTest } from './browser-helpers.js';

// The API docs, as a new user opens them from the server's start-up lines.

uiTest('the API docs at /docs render every operation without a console error (none from its content security policy)', async (t, ui) => {
  const server = await startTestServer(t);
  const { page } = ui;
  await ui.open(`${server.url}/docs`);
  await page
    .getByRole('heading', { name: /lazyaf/ })
    .first()
    .waitFor();
  await page.locator('.opblock').first().waitFor();
  // A CSP refusal is reported after the resource it refused: let the page settle.
  await page.waitForLoadState('networkidle');
});
