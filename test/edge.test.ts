import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { PROTOCOL_VERSION, RunnerRoutes } from '../src/shared/protocol.js';
import { api, basicAuth, createRepo, eventually, startTestServer, tempDir } from './helpers.js';
import { poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

interface Slow {
  socket: net.Socket;
  /** The status line the server answered with, once it has. */
  status: () => number | undefined;
  closed: () => boolean;
}

/** A client that sends its headers and the start of a body, then nothing (or a byte now and then). */
function slowClient(url: string, urlPath: string, headers: Record<string, string>, declaredLength = 1000): Slow {
  const u = new URL(url);
  const socket = net.connect(Number(u.port), u.hostname);
  let answer = '';
  let closed = false;
  socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  const lines = Object.entries({ host: u.host, 'content-type': 'application/json', 'content-length': String(declaredLength), ...headers }).map(
    ([k, v]) => `${k}: ${v}\r\n`,
  );
  socket.write(`POST ${urlPath} HTTP/1.1\r\n${lines.join('')}\r\n{"name":"`);
  return {
    socket,
    status: () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      return m ? Number(m[1]) : undefined;
    },
    closed: () => closed,
  };
}

test('a token is checked before the body is read, on every route that takes one, and the connection is closed', async (t) => {
  const server = await startTestServer(t);
  const repo = await createRepo(server, 'edge');
  const routes: [string, Record<string, string>][] = [
    [RunnerRoutes.register, {}],
    [RunnerRoutes.register, { authorization: 'Bearer lzreg_wrong' }],
    [RunnerRoutes.heartbeat, { authorization: 'Bearer lzrun_wrong' }],
    [RunnerRoutes.poll, {}],
    [RunnerRoutes.deregister, {}],
    [RunnerRoutes.logs('some-attempt'), { authorization: 'Bearer lzjob_wrong' }],
    [RunnerRoutes.complete('some-attempt'), {}],
    ['/api/jobs', {}],
    ['/api/repos', { authorization: 'Bearer nope' }],
    ['/api/no-such-route', {}],
    [`/git/${repo.id}.git/git-receive-pack`, {}],
    [`/git/${repo.id}.git/git-upload-pack`, { authorization: basicAuth('nope') }],
  ];
  const clients = routes.map(([p, h]) => ({ p, c: slowClient(server.url, p, h) }));
  for (const { p, c } of clients) {
    await eventually(`an answer on ${p}`, () => c.status() !== undefined, 10_000);
    assert.equal(c.status(), 401, `${p}: ${c.status()}`);
    await eventually(`${p} to close its connection`, () => c.closed(), 10_000);
  }
  // An unknown path outside /api is refused just as early.
  const stray = slowClient(server.url, '/elsewhere', {});
  await eventually('an answer for /elsewhere', () => stray.status() !== undefined, 10_000);
  assert.equal(stray.status(), 404);
});

test('200 connections trickling a register body without a token are cut at once, and /api/health keeps answering', async (t) => {
  const server = await startTestServer(t);
  const clients: Slow[] = [];
  for (let i = 0; i < 200; i++) clients.push(slowClient(server.url, RunnerRoutes.register, {}));
  const trickle = setInterval(() => {
    for (const c of clients) if (!c.closed()) c.socket.write('a');
  }, 200);
  t.after(() => clearInterval(trickle));
  for (let i = 0; i < 5; i++) assert.equal((await api(server, 'GET', '/api/health', undefined, { token: null })).status, 200);
  await eventually('every trickling connection to be answered and closed', () => clients.every((c) => c.closed()), 20_000);
  assert.ok(
    clients.every((c) => c.status() === 401),
    'each got a 401',
  );
  assert.equal((await api(server, 'GET', '/api/health', undefined, { token: null })).status, 200);
});

test('a body that never finishes, with a valid token, is cut after the body timeout with a 408', async (t) => {
  const server = await startTestServer(t, { LAZYAF_BODY_TIMEOUT: '1' });
  const slow = slowClient(server.url, RunnerRoutes.register, { authorization: `Bearer ${server.ctx.registrationToken}` });
  const trickle = setInterval(() => slow.closed() || slow.socket.write('a'), 100);
  t.after(() => clearInterval(trickle));
  await eventually('the slow body to be cut', () => slow.closed(), 15_000);
  assert.equal(slow.status(), 408);
  // The same route still works for a client that sends its body.
  await registerRunner(server, 'after-the-slow-one');
});

test('JSON nested too deep is a 400 before it is parsed, a deep 2 MB body a 401 or 413, never a 500', async (t) => {
  const server = await startTestServer(t);
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const huge = deep(1_000_000);
  assert.equal((await api(server, 'POST', RunnerRoutes.register, huge, { token: null })).status, 401);
  assert.equal((await api(server, 'POST', '/api/jobs', huge)).status, 413);
  const nested = await api(server, 'POST', '/api/repos', `{"name":"x","remote_url":${deep(100)}}`);
  assert.equal(nested.status, 400);
  assert.match(nested.body.message, /nested deeper than 64/);
  // Brackets inside strings are text, not nesting.
  const text = await api(server, 'POST', '/api/repos', { name: 'brackets', remote_url: `/srv/${'[{'.repeat(100)}"x` });
  assert.equal(text.status, 201, JSON.stringify(text.body));
  const reg = await api(server, 'POST', RunnerRoutes.register, `{"name":"r","protocol_version":${PROTOCOL_VERSION},"labels":${deep(70)}}`, {
    token: server.ctx.registrationToken,
  });
  assert.equal(reg.status, 400);
  assert.equal((await api(server, 'GET', '/api/health', undefined, { token: null })).status, 200);
});

test('a number past the finite (Infinity, 1e400) is a 400 in every query and body that takes a number, never a 500', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  const job = await submit(server, { repo_id: repo.id, title: 'x', command: 'true' });
  const paths = [
    '/api/jobs?limit=',
    '/api/runners?limit=',
    '/api/runners?offset=',
    `/api/jobs/${job.id}/logs?offset=`,
    `/api/jobs/${job.id}/logs?limit=`,
    `/api/jobs/${job.id}/diff?max_bytes=`,
    `/api/jobs/${job.id}/diff?max_files=`,
  ];
  for (const p of paths) {
    for (const value of ['Infinity', '-Infinity', '%2BInfinity', '1e400', '-1e400', '9'.repeat(400)]) {
      const r = await api(server, 'GET', p + value);
      assert.equal(r.status, 400, `${p}${value}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.message, /must be a finite number|must be (<=|>=|integer)/, `${p}${value}`);
    }
  }
  // In a JSON body the number is refused by its type already.
  const runner = await registerRunner(server, 'r');
  const bodies: [string, string, string | undefined][] = [
    ['/api/jobs', `{"repo_id":"${repo.id}","title":"t","command":"true","timeout_s":1e400}`, undefined],
    ['/api/pool', '{"desired":1e400}', undefined],
    [RunnerRoutes.poll, '{"wait_ms":1e400}', runner.token],
  ];
  for (const [p, body, token] of bodies) {
    const r = await api(server, p === '/api/pool' ? 'PUT' : 'POST', p, body, token ? { token } : {});
    assert.equal(r.status, 400, `${p} ${body}: ${JSON.stringify(r.body)}`);
  }
  // The same word where a field is text stays text: a repo may be named Infinity.
  await createRepo(server, 'Infinity');
  assert.equal((await api(server, 'GET', '/api/jobs?repo_id=Infinity')).status, 200);
});

test('long-polls and a followed log outlive the idle timeout while the server is the one waiting', async (t) => {
  const server = await startTestServer(t, { LAZYAF_IDLE_TIMEOUT: '20', LAZYAF_LONG_POLL: '25' });
  // Shorten the idle timeout below what the config allows, to keep the test short.
  server.app.server.timeout = 1000;
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'waiter');
  assert.equal(await poll(server, runner.token, 2500), undefined, 'an empty long-poll ends with 204, not a cut connection');

  const job = await submit(server, { repo_id: repo.id, title: 'quiet', command: 'true' });
  const assignment = await poll(server, runner.token);
  assert.ok(assignment);
  const followed = fetch(`${server.url}/api/jobs/${job.id}/logs?follow=true`, { headers: { authorization: `Bearer ${server.token}` } }).then((r) => r.text());
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(
    (await api(server, 'POST', RunnerRoutes.logs(assignment.attempt_id), { seq: 1, data: 'after a quiet while\n' }, { token: assignment.job_token })).status,
    200,
  );
  assert.equal(
    (
      await api(
        server,
        'POST',
        RunnerRoutes.complete(assignment.attempt_id),
        { outcome: 'succeeded', exit_code: 0, commit: null },
        { token: assignment.job_token },
      )
    ).status,
    200,
  );
  assert.match(await followed, /^after a quiet while$/m);
});
