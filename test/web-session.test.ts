import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { openDb } from '../src/server/db/index.js';
import { KeyedBuckets } from '../src/server/rate-limit.js';
import { SessionStore } from '../src/server/store/sessions.js';
import { SESSION_LIFETIME_MS, Sessions } from '../src/server/web/sessions.js';
import { SignInCodes } from '../src/server/web/signin-codes.js';
import { CSRF_HEADER, SESSION_COOKIE, SIGNIN_FRAGMENT } from '../src/shared/session.js';
import { api, cli, createRepo, eventually, readStream, startTestServer, tempDir, type ApiResponse, type Target } from './helpers.js';
import { seedRepo } from './queue-helpers.js';

// The web UI's sign-in: a session cookie the API and the event stream take like the admin token,
// CSRF-checked writes, sign-out, the one-time links, and sessions that outlive a restart.

interface Browser {
  cookie: string;
  csrf: string;
}

/** The `name=value` of the session cookie a response sets. */
function cookieOf(res: ApiResponse): string {
  const set = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  assert.ok(set, `a session cookie is set: ${JSON.stringify(res.headers.getSetCookie())}`);
  return set.split(';')[0]!;
}

/** Signs in as a browser does (no Authorization header) and returns its cookie and CSRF token. */
async function signIn(server: Target, body: { token?: string; code?: string }): Promise<Browser> {
  const res = await api(server, 'POST', '/api/session', body, { token: null });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.signed_in, true);
  assert.equal(typeof res.body.csrf_token, 'string');
  return { cookie: cookieOf(res), csrf: res.body.csrf_token };
}

/** A request as the signed-in browser sends it: its cookie, no token; `csrf` false leaves the header out. */
function asBrowser(
  server: Target,
  b: Browser,
  method: string,
  urlPath: string,
  body?: unknown,
  extra: { csrf?: string | false; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { cookie: b.cookie, ...extra.headers };
  const csrf = extra.csrf ?? b.csrf;
  if (csrf !== false) headers[CSRF_HEADER] = csrf;
  return api(server, method, urlPath, body, { token: null, headers });
}

/** A sign-in with the admin token from another client address of this machine: its HTTP status. */
function signInFrom(localAddress: string, server: Target, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ token });
    const req = http.request(
      `${server.url}/api/session`,
      { method: 'POST', localAddress, timeout: 30_000, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`a sign-in from ${localAddress} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

const repoNames = async (server: Target) => (await api(server, 'GET', '/api/repos')).body.repos.map((r: { name: string }) => r.name).sort();

test('signing in with the admin token sets an HttpOnly SameSite=Strict cookie that the API takes; a wrong token says so', async (t) => {
  const server = await startTestServer(t);
  const out = await api(server, 'GET', '/api/session', undefined, { token: null });
  assert.deepEqual(out.body, { signed_in: false, csrf_token: null });

  const wrong = await api(server, 'POST', '/api/session', { token: 'lzadm_not_it' }, { token: null });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.message, 'wrong admin token');
  assert.deepEqual(wrong.headers.getSetCookie(), []);
  for (const body of [{}, { token: server.token, code: 'x' }]) {
    const res = await api(server, 'POST', '/api/session', body, { token: null });
    assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
  }

  const res = await api(server, 'POST', '/api/session', { token: server.token }, { token: null });
  assert.equal(res.status, 200);
  const set = res.headers.getSetCookie()[0]!;
  assert.match(set, new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; `));
  for (const attr of ['HttpOnly', 'SameSite=Strict', 'Path=/', 'Max-Age=2592000']) assert.ok(set.split('; ').includes(attr), `${attr} in ${set}`);
  assert.ok(!set.includes('Secure'), 'no Secure flag over plain http without an https public URL');
  const b: Browser = { cookie: cookieOf(res), csrf: res.body.csrf_token };

  const jobs = await asBrowser(server, b, 'GET', '/api/jobs', undefined, { csrf: false });
  assert.equal(jobs.status, 200, JSON.stringify(jobs.body));
  const state = await asBrowser(server, b, 'GET', '/api/session', undefined, { csrf: false });
  assert.deepEqual(state.body, { signed_in: true, csrf_token: b.csrf });
  assert.equal(state.headers.get('cache-control'), 'no-store', 'the CSRF token stays out of caches');
  // Only the hash of the secret is stored.
  const secret = b.cookie.split('=')[1]!;
  const rows = server.ctx.db.prepare('SELECT * FROM sessions').all() as Record<string, unknown>[];
  assert.equal(rows.length, 1);
  assert.ok(!JSON.stringify(rows).includes(secret), 'the secret is not in the database');

  // A request with a bearer token is judged by it alone: a wrong one fails whatever the cookie.
  const both = await api(server, 'GET', '/api/jobs', undefined, { token: 'lzadm_wrong', headers: { cookie: b.cookie } });
  assert.equal(both.status, 401);
  // The runner protocol and git never take the cookie.
  const git = await api(server, 'GET', '/git/nope.git/info/refs?service=git-upload-pack', undefined, { token: null, headers: { cookie: b.cookie } });
  assert.equal(git.status, 401);
});

test('with the cookie a write needs the CSRF token and a same-origin Origin; without them it is a 403 that changes nothing', async (t) => {
  const server = await startTestServer(t);
  const b = await signIn(server, { token: server.token });
  const host = new URL(server.url).host;

  const missing = await asBrowser(server, b, 'POST', '/api/repos', { name: 'one' }, { csrf: false });
  assert.equal(missing.status, 403);
  assert.equal(missing.body.message, 'missing or wrong CSRF token');
  // Its last character changed (to one it is not: a token ending in A would otherwise be itself).
  const wrong = await asBrowser(server, b, 'POST', '/api/repos', { name: 'one' }, { csrf: `${b.csrf.slice(0, -1)}${b.csrf.endsWith('A') ? 'B' : 'A'}` });
  assert.equal(wrong.status, 403);
  assert.equal(wrong.body.message, 'missing or wrong CSRF token');
  for (const origin of ['http://evil.example', 'null', `https://${host}.evil.example`, '%%%', `ftp://${host}`, `file://${host}`]) {
    const res = await asBrowser(server, b, 'POST', '/api/repos', { name: 'one' }, { headers: { origin } });
    assert.equal(res.status, 403, origin);
    assert.equal(res.body.message, 'cross-origin request refused', origin);
  }
  assert.deepEqual(await repoNames(server), [], 'no refused write created anything');

  const ok = await asBrowser(server, b, 'POST', '/api/repos', { name: 'one' }, { headers: { origin: server.url } });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  const noOrigin = await asBrowser(server, b, 'POST', '/api/repos', { name: 'two' });
  assert.equal(noOrigin.status, 201, JSON.stringify(noOrigin.body));
  assert.deepEqual(await repoNames(server), ['one', 'two']);
  // Another session's CSRF token is not this one's.
  const other = await signIn(server, { token: server.token });
  const crossed = await asBrowser(server, b, 'POST', '/api/repos', { name: 'three' }, { csrf: other.csrf });
  assert.equal(crossed.status, 403);
});

test('signing out ends the session: the cookie stops working and the sign-out clears it', async (t) => {
  const server = await startTestServer(t);
  const b = await signIn(server, { token: server.token });
  const refused = await asBrowser(server, b, 'DELETE', '/api/session', undefined, { csrf: false });
  assert.equal(refused.status, 403, 'a sign-out without the CSRF token is refused');
  assert.equal((await asBrowser(server, b, 'GET', '/api/jobs')).status, 200);

  const out = await asBrowser(server, b, 'DELETE', '/api/session');
  assert.equal(out.status, 204);
  assert.match(out.headers.getSetCookie()[0]!, new RegExp(`^${SESSION_COOKIE}=; .*Max-Age=0`));
  const after = await asBrowser(server, b, 'GET', '/api/jobs');
  assert.equal(after.status, 401);
  assert.match(after.body.message, /not signed in/);
  assert.deepEqual((await asBrowser(server, b, 'GET', '/api/session')).body, { signed_in: false, csrf_token: null });
  assert.equal((server.ctx.db.prepare('SELECT COUNT(*) AS n FROM sessions').get() as { n: number }).n, 0);
  // Signing out again, or without a session, is harmless.
  assert.equal((await api(server, 'DELETE', '/api/session', undefined, { token: null })).status, 204);
});

test('the event stream takes the session cookie, and ends when that session signs out', async (t) => {
  const server = await startTestServer(t);
  const b = await signIn(server, { token: server.token });
  const abort = new AbortController();
  t.after(() => abort.abort());
  const res = await fetch(`${server.url}/api/events`, { headers: { cookie: b.cookie }, signal: abort.signal });
  assert.equal(res.status, 200);
  const stream = readStream(t, res, "the session's event stream");
  await createRepo(server, 'watched');
  await stream.until(/event: repo\.created\ndata: .*"watched"/);
  // Another session signing out leaves this stream alone; its own sign-out ends it.
  const other = await signIn(server, { token: server.token });
  assert.equal((await asBrowser(server, other, 'DELETE', '/api/session')).status, 204);
  await createRepo(server, 'still-watched');
  await stream.until('"still-watched"');
  assert.equal((await asBrowser(server, b, 'DELETE', '/api/session')).status, 204);
  await stream.ended();
});

test('lazyaf ui --sign-out-all signs every browser out: cookies, event streams and followed logs end; a bearer token goes on', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'), 'watched');
  const job = await api(server, 'POST', '/api/jobs', { repo_id: repo.id, title: 'queued', command: 'true' });
  assert.equal(job.status, 201, JSON.stringify(job.body));
  const [one, two] = [await signIn(server, { token: server.token }), await signIn(server, { token: server.token })];
  const abort = new AbortController();
  t.after(() => abort.abort());
  // Every stream here is bounded: a minute at most.
  const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(60_000)]);
  const events = await fetch(`${server.url}/api/events`, { headers: { cookie: one.cookie }, signal });
  assert.equal(events.status, 200);
  // The answer starts at once, before the job has written anything.
  const log = await fetch(`${server.url}/api/jobs/${job.body.id}/logs?follow=true`, { headers: { cookie: two.cookie }, signal });
  assert.equal(log.status, 200);
  const tokenEvents = await fetch(`${server.url}/api/events`, { headers: { authorization: `Bearer ${server.token}` }, signal });
  assert.equal(tokenEvents.status, 200);

  assert.equal((await api(server, 'DELETE', '/api/sessions', undefined, { token: null })).status, 401);
  const out = await cli(['ui', '--sign-out-all'], { env: { LAZYAF_SERVER: server.url, LAZYAF_TOKEN: server.token } });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, 'signed out 2 browser sessions\n');
  await readStream(t, events, 'the event stream of a signed-out browser').ended();
  await readStream(t, log, 'the followed log of a signed-out browser').ended();
  for (const b of [one, two]) assert.equal((await asBrowser(server, b, 'GET', '/api/jobs')).status, 401);
  assert.equal((server.ctx.db.prepare('SELECT COUNT(*) AS n FROM sessions').get() as { n: number }).n, 0);

  // The stream opened with the admin token is not a session's: it still hears news.
  const tokenStream = readStream(t, tokenEvents, "the token's event stream");
  await createRepo(server, 'after');
  await tokenStream.until('"after"');
  assert.equal((await api(server, 'DELETE', '/api/sessions')).body.ended, 0, 'none left to end');
});

test('a new admin token ends every session at the next start', async (t) => {
  const dataDir = path.join(tempDir(t), 'data');
  const first = await startTestServer(t, {}, { dataDir, token: 'lzadm_first_admin_token' });
  const b = await signIn(first, { token: first.token });
  first.child.kill('SIGTERM');
  await eventually('the first server to exit', () => first.child.exitCode !== null || first.child.signalCode !== null);
  const second = await startTestServer(t, {}, { dataDir, token: 'lzadm_second_admin_token' });
  const refused = await asBrowser(second, b, 'GET', '/api/jobs');
  assert.equal(refused.status, 401);
  assert.match(refused.body.message, /not signed in/);
  const fresh = await signIn(second, { token: second.token });
  assert.equal((await asBrowser(second, fresh, 'GET', '/api/jobs')).status, 200);
});

test('hostile Cookie headers are a 401, never a 500, and sign-in attempts are rate limited', async (t) => {
  const server = await startTestServer(t);
  const real = await signIn(server, { token: server.token });
  const fake = 'A'.repeat(43);
  const cookies = [
    `${SESSION_COOKIE}=${'x'.repeat(12_000)}`,
    `${SESSION_COOKIE}=`,
    `${SESSION_COOKIE}`,
    `=${fake}`,
    `${SESSION_COOKIE}=${fake}; `.repeat(200),
    `${SESSION_COOKIE}="${fake}"`,
    `${SESSION_COOKIE}=%41${fake.slice(3)}`,
    `${SESSION_COOKIE}=${fake}\u00e9`,
    `${SESSION_COOKIE}=__proto__`,
    `__proto__=1; constructor=2; ${SESSION_COOKIE}=${fake}`,
    ';;;;=;=;',
  ];
  for (const cookie of cookies) {
    const res = await fetch(`${server.url}/api/jobs`, { headers: { cookie: Buffer.from(cookie, 'latin1').toString('latin1') } }).catch((err: Error) => err);
    assert.ok(!(res instanceof Error), `${cookie.slice(0, 40)}: ${String(res)}`);
    assert.equal(res.status, 401, cookie.slice(0, 60));
    assert.equal((await fetch(`${server.url}/api/session`, { headers: { cookie } })).status, 200, cookie.slice(0, 60));
  }
  // The real cookie among fakes and other sites' cookies still works.
  const mixed = await api(server, 'GET', '/api/jobs', undefined, {
    token: null,
    headers: { cookie: `other=1; ${SESSION_COOKIE}=${fake}; ${real.cookie}; x=y` },
  });
  assert.equal(mixed.status, 200);
  const other = await api(server, 'GET', '/api/jobs', undefined, { token: null, headers: { cookie: 'theme=dark' } });
  assert.equal(other.status, 401);
  assert.match(other.body.message, /missing bearer token/, 'a browser with only other cookies is asked for the token');

  // 10 at once, then one a second: the first that gets no token is told when to come back.
  let limited: ApiResponse | undefined;
  for (let i = 0; i < 20 && !limited; i++) {
    const res = await api(server, 'POST', '/api/session', { token: `lzadm_guess_${i}` }, { token: null });
    if (res.status === 429) limited = res;
    else assert.equal(res.status, 401);
  }
  assert.ok(limited, 'sign-in attempts are limited');
  assert.match(limited.headers.get('retry-after') ?? '', /^\d+$/);
  assert.match(limited.body.message, /too many sign-in attempts/);
  // Per client: another address (the loopback is a whole /8 on Linux) still signs in at once.
  assert.equal(await signInFrom('127.0.0.2', server, server.token), 200);
  assert.equal((await api(server, 'POST', '/api/session', { token: server.token }, { token: null })).status, 429, 'the first client still waits');
});

test('sign-in buckets are per client address, and the least recently used are forgotten beyond the cap', () => {
  let now = 0;
  const buckets = new KeyedBuckets(2, 1, 2, () => now);
  assert.deepEqual([buckets.take('a'), buckets.take('a'), buckets.take('a')], [0, 0, 1]);
  assert.equal(buckets.take('b'), 0, 'b has a bucket of its own');
  now += 1000;
  assert.equal(buckets.take('a'), 0, 'a second later, one more');
  assert.equal(buckets.take('a'), 1);
  // A third key forgets the least recently used one (b), not a.
  assert.equal(buckets.take('c'), 0);
  assert.equal(buckets.take('a'), 1, 'a is remembered');
  assert.deepEqual([buckets.take('b'), buckets.take('b')], [0, 0], 'b was forgotten and starts full');
});

test('a session outlives a restart; lazyaf ui prints a link that works once and never reaches the log; start-up output off a terminal has none', async (t) => {
  const dataDir = path.join(tempDir(t), 'data');
  const first = await startTestServer(t, {}, { dataDir, logLevel: 'info' });
  // The server's output here is a pipe, as under a service manager that keeps it: no link in it.
  assert.equal(first.signInHint, 'run `lazyaf ui` for a one-click link (shown here only on a terminal)');
  assert.doesNotMatch(first.output(), new RegExp(`#${SIGNIN_FRAGMENT}=`));

  const link = await cli(['ui'], { env: { LAZYAF_SERVER: first.url, LAZYAF_TOKEN: first.token } });
  assert.equal(link.code, 0, link.stderr);
  const printed = new URL(link.stdout.trim());
  assert.equal(printed.origin, first.url);
  const code = new URLSearchParams(printed.hash.slice(1)).get(SIGNIN_FRAGMENT)!;
  assert.ok(code, link.stdout);

  const b = await signIn(first, { code });
  assert.equal((await asBrowser(first, b, 'GET', '/api/jobs')).status, 200);
  const again = await api(first, 'POST', '/api/session', { code }, { token: null });
  assert.equal(again.status, 401);
  assert.equal(again.body.message, 'this sign-in link was already used or has expired');
  // The request log has the link's making and the sign-ins (info level), never the code.
  await eventually('the sign-ins in the request log', () => (first.output().match(/"url":"\/api\/session"/g) ?? []).length >= 2);
  assert.ok(!first.output().includes(code), 'the code is in no log line');

  const secondLink = await cli(['ui'], { env: { LAZYAF_SERVER: first.url, LAZYAF_TOKEN: first.token } });
  const freshCode = new URLSearchParams(new URL(secondLink.stdout.trim()).hash.slice(1)).get(SIGNIN_FRAGMENT)!;
  assert.notEqual(freshCode, code);
  const unused = (await api(first, 'POST', '/api/session/links', undefined, { token: null })).status;
  assert.equal(unused, 401, 'a link takes the admin token');
  const viaCookie = await asBrowser(first, b, 'POST', '/api/session/links');
  assert.equal(viaCookie.status, 201, 'or a signed-in browser');
  assert.ok(Date.parse(viaCookie.body.expires_at) > Date.now() + 23 * 3600 * 1000);

  first.child.kill('SIGTERM');
  await eventually('the first server to exit', () => first.child.exitCode !== null || first.child.signalCode !== null);
  const second = await startTestServer(t, {}, { dataDir });
  assert.equal((await asBrowser(second, b, 'GET', '/api/jobs')).status, 200, 'the session survives the restart');
  const stale = await api(second, 'POST', '/api/session', { code: freshCode }, { token: null });
  assert.equal(stale.status, 401, 'links end with the server that made them');

  const noServer = await cli(['ui'], { env: { LAZYAF_SERVER: second.url, LAZYAF_TOKEN: 'lzadm_wrong' } });
  assert.notEqual(noServer.code, 0);
  assert.match(noServer.stderr, /^lazyaf: unauthorized: invalid token/);
  assert.equal(noServer.stderr.trim().split('\n').length, 1);
});

test('behind an https public URL the cookie is Secure, pages from that origin may write, and links point there', async (t) => {
  const publicUrl = 'https://lazyaf.example:8443';
  const server = await startTestServer(t, { LAZYAF_PUBLIC_URL: `${publicUrl}/` });
  const res = await api(server, 'POST', '/api/session', { token: server.token }, { token: null });
  assert.ok(res.headers.getSetCookie()[0]!.split('; ').includes('Secure'), res.headers.getSetCookie()[0]);
  const b: Browser = { cookie: cookieOf(res), csrf: res.body.csrf_token };
  const write = await asBrowser(server, b, 'POST', '/api/repos', { name: 'proxied' }, { headers: { origin: publicUrl } });
  assert.equal(write.status, 201, JSON.stringify(write.body));
  const link = await api(server, 'POST', '/api/session/links');
  assert.equal(link.status, 201);
  assert.match(link.body.url, new RegExp(`^${publicUrl}/#${SIGNIN_FRAGMENT}=[A-Za-z0-9_-]{32}$`));
});

test('sessions end after 30 days unused and 90 days after sign-in, and are pruned; links end after 24 hours, and only 100 are kept', (t) => {
  let now = Date.UTC(2026, 0, 1);
  const clock = () => now;
  const db = openDb(path.join(tempDir(t), 'lazyaf.db'));
  t.after(() => db.close());
  const sessions = new Sessions(new SessionStore(db), 'lzadm_test', clock);
  const secret = sessions.start();
  const cookie = `${SESSION_COOKIE}=${secret}`;
  now += 29 * 24 * 3600 * 1000;
  assert.equal(sessions.find(cookie), secret);
  sessions.findAndRenew(cookie);
  now += 29 * 24 * 3600 * 1000;
  assert.equal(sessions.find(cookie), secret, 'a renewed session has its 30 days again');
  now += 2 * 24 * 3600 * 1000;
  assert.equal(sessions.find(cookie), undefined);
  assert.equal(sessions.prune(), 1);

  // Renewed every day, a session still ends 90 days after its sign-in.
  const kept = sessions.start();
  const signedInAt = now;
  while (now < signedInAt + SESSION_LIFETIME_MS - 24 * 3600 * 1000) {
    now += 24 * 3600 * 1000;
    assert.equal(sessions.find(`${SESSION_COOKIE}=${kept}`), kept, `still signed in on day ${(now - signedInAt) / 86_400_000}`);
    sessions.findAndRenew(`${SESSION_COOKIE}=${kept}`);
  }
  now = signedInAt + SESSION_LIFETIME_MS;
  assert.equal(sessions.find(`${SESSION_COOKIE}=${kept}`), undefined, 'ended 90 days after its sign-in, renewed or not');

  const codes = new SignInCodes(clock);
  const day = codes.issue().code;
  now += 24 * 3600 * 1000;
  assert.equal(codes.redeem(day), false, 'a link ends after 24 hours');
  const issued = Array.from({ length: 101 }, () => codes.issue().code);
  assert.equal(codes.redeem(issued[0]!), false, 'the oldest of 101 links was dropped');
  assert.equal(codes.redeem(issued[1]!), true);
  assert.equal(codes.redeem(issued[100]!), true);
});

test('a watched session ends its watchers when it expires unused, and watches on when it was renewed', async (t) => {
  let now = Date.UTC(2026, 0, 1);
  const db = openDb(path.join(tempDir(t), 'lazyaf.db'));
  t.after(() => db.close());
  const sessions = new Sessions(new SessionStore(db), 'lzadm_test', () => now);
  const day = 24 * 3600 * 1000;
  const idle = sessions.start();
  const renewed = sessions.start();
  now += 30 * day - 50; // both expire 50 ms from now
  const ends: string[] = [];
  const stops = [sessions.watch(idle, () => ends.push('idle')), sessions.watch(renewed, () => ends.push('renewed'))];
  sessions.findAndRenew(`${SESSION_COOKIE}=${renewed}`);
  now += 60;
  await eventually('the expired session to end its watcher', () => ends.length > 0, 5_000);
  assert.deepEqual(ends, ['idle']);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(ends, ['idle'], 'the renewed session is still watched, not ended');
  sessions.end(renewed);
  assert.deepEqual(ends, ['idle', 'renewed']);
  for (const stop of stops) stop();
  let late = false;
  sessions.watch(idle, () => (late = true));
  await eventually('a watch of an expired session to end at once', () => late, 5_000);
});
