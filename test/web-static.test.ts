import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { resolveServerConfig } from '../src/server/config.js';
import { api, ROOT, startTestServer, tempDir } from './helpers.js';
import { rawRequest } from './git-helpers.js';

// The server serves the built web UI: the page (with its security headers) for every path of the
// UI, the hashed assets with a long cache, JSON 404s elsewhere, and nothing outside dist/web.

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

/** A web dir as Vite builds one: the page, hashed assets, an icon beside the page. */
function fakeBuild(dir: string): { script: string; js: string; page: string } {
  const js = `console.log(${JSON.stringify(crypto.randomBytes(4000).toString('hex'))});\n`;
  const script = `index-${crypto.createHash('sha256').update(js).digest('hex').slice(0, 8)}.js`;
  const page = `<!doctype html><html><head><script type="module" src="/assets/${script}"></script></head><body><div id="app"></div></body></html>\n`;
  fs.mkdirSync(path.join(dir, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'index.html'), page);
  fs.writeFileSync(path.join(dir, 'assets', script), js);
  fs.writeFileSync(path.join(dir, 'assets', 'logo-abc123.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  fs.writeFileSync(path.join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  // Beside the web dir: what a traversal would reach.
  fs.writeFileSync(path.join(dir, '..', 'secret.txt'), 'outside the web dir');
  return { script, js, page };
}

/** A GET with an Accept-Encoding that fetch would not let through as given, and the body as bytes. */
function getBytes(
  base: string,
  urlPath: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    http
      .get({ host: u.hostname, port: u.port, path: urlPath, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

test('the page for / and every path of the UI, with its security headers; the API keeps its JSON 404s', async (t) => {
  const web = path.join(tempDir(t), 'web');
  const { page } = fakeBuild(web);
  const server = await startTestServer(t, { LAZYAF_WEB_DIR: web });

  for (const [urlPath, headers] of [
    ['/', {}],
    ['/', HTML],
    ['/jobs/abc', HTML],
    ['/repos', HTML],
    ['/repos/some%20name?x=1', HTML],
    ['/index.html', HTML],
  ] as const) {
    const res = await fetch(server.url + urlPath, { headers });
    assert.equal(res.status, 200, urlPath);
    assert.equal(await res.text(), page, urlPath);
    assert.match(res.headers.get('content-type')!, /^text\/html/);
    assert.equal(res.headers.get('content-security-policy'), CSP, urlPath);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
  }
  const head = await fetch(`${server.url}/jobs/x`, { method: 'HEAD', headers: HTML });
  assert.equal(head.status, 200);

  // Not a page: the API, git, the docs and assets, a client that does not ask for HTML, a write.
  for (const [method, urlPath, headers] of [
    ['GET', '/api/nope', HTML],
    ['GET', '/git/nope', HTML],
    ['GET', '/docs/nope', HTML],
    ['GET', '/assets/nope.js', HTML],
    ['GET', '/jobs/abc', {}],
    ['GET', '/jobs/abc', { accept: 'application/json' }],
    ['POST', '/jobs/abc', HTML],
  ] as const) {
    const res = await api(server, method, urlPath, undefined, { headers });
    assert.equal(res.status, 404, `${method} ${urlPath}`);
    assert.equal(res.body.error, 'Not Found', `${method} ${urlPath}: a JSON 404`);
  }
  assert.equal((await api(server, 'GET', '/api/nope', undefined, { token: null, headers: HTML })).status, 401, 'an unknown API path still wants the token');
  assert.equal((await api(server, 'GET', '/api/health', undefined, { token: null, headers: HTML })).body.status, 'ok');
  // The API docs share the UI's origin (and cookie): their page runs only its own scripts, in no frame.
  const docs = await fetch(`${server.url}/docs/static/index.html`, { headers: HTML });
  assert.equal(docs.status, 200);
  const docsCsp = docs.headers.get('content-security-policy') ?? '';
  assert.match(docsCsp, /script-src 'self'[^;]*;/);
  assert.match(docsCsp, /frame-ancestors 'none'/);
  assert.doesNotMatch(docsCsp, /upgrade-insecure-requests|unsafe-inline[^;]*script/);
});

test('assets: a year of cache, compressed on request; an icon beside the page; traversal reaches nothing outside the web dir', async (t) => {
  const web = path.join(tempDir(t), 'web');
  const { script, js } = fakeBuild(web);
  const server = await startTestServer(t, { LAZYAF_WEB_DIR: web });

  const plain = await getBytes(server.url, `/assets/${script}`, {});
  assert.equal(plain.status, 200);
  assert.equal(plain.body.toString(), js);
  assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal(plain.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(plain.headers['x-content-type-options'], 'nosniff');
  const br = await getBytes(server.url, `/assets/${script}`, { 'accept-encoding': 'gzip, deflate, br' });
  assert.equal(br.headers['content-encoding'], 'br');
  assert.equal(br.headers.vary, 'Accept-Encoding');
  assert.equal(zlib.brotliDecompressSync(br.body).toString(), js);
  assert.ok(br.body.length < js.length, 'smaller compressed');
  const gz = await getBytes(server.url, `/assets/${script}`, { 'accept-encoding': 'gzip' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(zlib.gunzipSync(gz.body).toString(), js);
  const refused = await getBytes(server.url, `/assets/${script}`, { 'accept-encoding': 'br;q=0, gzip;q=0' });
  assert.equal(refused.headers['content-encoding'], undefined);
  assert.equal(refused.body.toString(), js);
  const png = await getBytes(server.url, '/assets/logo-abc123.png', { 'accept-encoding': 'gzip' });
  assert.equal(png.headers['content-type'], 'image/png');
  assert.equal(png.headers['content-encoding'], undefined);
  const icon = await fetch(`${server.url}/favicon.svg`);
  assert.equal(icon.status, 200);
  assert.equal(icon.headers.get('content-type'), 'image/svg+xml');

  const attempts = [
    '/assets/../secret.txt',
    '/assets/../../secret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/assets/%2e%2e/%2e%2e/secret.txt',
    '/assets/..%5c..%5csecret.txt',
    '/assets/%252e%252e%252fsecret.txt',
    `/assets/${script}%00.png`,
    `/assets/${script}%00`,
    '/assets/.%2e/index.html',
    '/assets/',
    '/assets',
    '/assets/..',
    `/assets//${script}`,
    '/..%2fsecret.txt',
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/secret.txt',
    '/assets/x'.repeat(500),
  ];
  for (const p of attempts) {
    const res = await rawRequest(server.url, { path: p, headers: { accept: '*/*' } });
    assert.ok(res.status === 404 || res.status === 400, `${p.slice(0, 60)}: ${res.status} ${res.body.slice(0, 100)}`);
    assert.ok(!res.body.includes('outside the web dir'), p);
  }
  // Asked as a page, a traversal gets the page at most, never the file.
  const asPage = await rawRequest(server.url, { path: '/..%2fsecret.txt', headers: HTML });
  assert.ok(!asPage.body.includes('outside the web dir'));
});

test('without a built UI, / is a 503 that says how to build it', async (t) => {
  const empty = tempDir(t);
  const server = await startTestServer(t, { LAZYAF_WEB_DIR: path.join(empty, 'missing') });
  for (const urlPath of ['/', '/jobs/abc']) {
    const res = await fetch(server.url + urlPath, { headers: HTML });
    assert.equal(res.status, 503, urlPath);
    assert.equal(await res.text(), 'the web UI is not built: run npm run build\n');
  }
  assert.equal((await fetch(`${server.url}/assets/index-x.js`)).status, 404);
  assert.equal((await api(server, 'GET', '/api/jobs')).status, 200, 'the API works without the UI');
  // By default the UI is the package's own build, wherever the server runs from.
  assert.equal(resolveServerConfig({}, {}).webDir, path.join(ROOT, 'dist', 'web'));
});
