import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { prettyLine, quietRequest } from '../src/server/logging.js';
import { shellQuote } from '../src/shared/git.js';
import { RunnerRoutePaths } from '../src/shared/protocol.js';
import { api, CLI, eventually, removeRelayDirAfter, run, spawnChild, startTestServer, tempDir, waitForOutput } from './helpers.js';
import { seedRepo, submit, waitForJob } from './queue-helpers.js';

// What `lazyaf server` prints: short lines for a person on a terminal (run here under a
// pseudo-terminal, util-linux's `script`), JSON lines elsewhere; steady runner traffic in neither.

interface Started {
  url: string;
  token: string;
  registrationToken: string;
  output: () => string;
}

/** `lazyaf server` with one pool runner, at info level; under a pseudo-terminal when `tty`. */
async function startServer(t: TestContext, tty: boolean, extra: string[] = []): Promise<Started> {
  const dir = tempDir(t);
  removeRelayDirAfter(t, path.join(dir, 'data'));
  const token = 'lzadm_output_test_admin';
  const registrationToken = 'lzreg_output_test_registration';
  const argv = [process.execPath, CLI, 'server', '--port', '0', '--data', path.join(dir, 'data'), '--runners', '1', '--log-level', 'info', ...extra];
  const env = { ...process.env, LAZYAF_ADMIN_TOKEN: token, LAZYAF_REGISTRATION_TOKEN: registrationToken, LAZYAF_LOG_FORMAT: '' };
  const child = tty
    ? spawnChild(t, 'script', ['-qfec', argv.map(shellQuote).join(' '), '/dev/null'], { env })
    : spawnChild(t, argv[0]!, argv.slice(1), { env });
  let seen = '';
  child.stdout?.on('data', (c: Buffer) => (seen += c.toString('utf8')));
  const m = await waitForOutput(child, /lazyaf server listening on (http:\/\/127\.0\.0\.1:\d+)/, 60_000);
  return { url: m[1]!, token, registrationToken, output: () => seen };
}

test('on a terminal the server prints short lines: what started, runners joining, jobs starting and ending', async (t) => {
  const server = await startServer(t, true);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  await eventually('the pool runner to join', () => /runner pool-1 joined \(bubblewrap sandbox|runner pool-1 joined \(UNSANDBOXED/.test(server.output()));
  const job = await submit(server, { repo_id: repo.id, title: 'Tint \x1b[31mred\u202e', command: 'echo x > x.txt; exit 3' });
  const done = await waitForJob(server, job.id, undefined, 60_000);
  const id8 = job.id.slice(0, 8);
  const out = await eventually('the job to end in the output', () => server.output().includes(`job ${id8} failed`) && server.output());
  assert.match(out, /lazyaf server listening on http:\/\/127\.0\.0\.1:\d+ \(version [^)]+\)/);
  assert.match(out, /runners: a pool of 1 \(process launcher\)/);
  assert.match(out, /the admin token is the one in LAZYAF_ADMIN_TOKEN/);
  assert.ok(out.includes(`job ${id8} started on pool-1: "Tint \\u001b[31mred\\u202e"`), out);
  assert.ok(out.includes(`job ${id8} failed (exit code 3): `), out);
  assert.ok(out.includes(`${done.branch} at ${done.commit!.slice(0, 12)}`), out);
  // No raw escape from the title, no JSON, no request logs.
  assert.doesNotMatch(out, /\x1b\[31m|\u202e/);
  assert.doesNotMatch(out, /"level":|incoming request|request completed/);
});

test('when stdout is not a terminal the server writes JSON lines, without the runners steady traffic', async (t) => {
  const server = await startServer(t, false);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const job = await submit(server, { repo_id: repo.id, title: 'json', command: 'true' });
  await waitForJob(server, job.id, undefined, 60_000);
  const out = await eventually('the job to end in the log', () => server.output().includes(`job ${job.id.slice(0, 8)} succeeded`) && server.output());
  const records = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string; req?: { url: string } });
  assert.ok(records.some((r) => r.msg.startsWith('runner pool-1 joined')));
  const urls = records.flatMap((r) => (r.req ? [r.req.url] : []));
  assert.ok(urls.includes('/api/jobs'), `requests of people are logged: ${urls.join(' ')}`);
  assert.ok(!urls.some((u) => /^\/api\/runners\/(heartbeat|poll|attempts\/)/.test(u)), urls.join('\n'));
});

test('the pretty formatter drops what only a collector wants and escapes what jobs wrote', () => {
  const at = Date.UTC(2026, 0, 1, 12, 0, 0);
  assert.equal(prettyLine({ level: 30, time: at, msg: 'request completed', res: {} }), undefined);
  assert.equal(prettyLine({ level: 30, time: at, msg: 'Server listening at http://127.0.0.1:1' }), undefined);
  assert.equal(prettyLine({ level: 30, time: at, msg: 'lazyaf runner pool-1: job ab: running', runner: 'pool-1' }), undefined);
  assert.match(
    prettyLine({ level: 30, time: at, msg: 'lazyaf runner pool-1: WARNING: cannot sandbox jobs', runner: 'pool-1' })!,
    / lazyaf runner pool-1: WARNING/,
  );
  assert.match(prettyLine({ level: 30, time: at, msg: 'request completed', res: {} }, true)!, /request completed$/);
  assert.match(
    prettyLine({ level: 50, time: at, msg: 'lease sweep failed', err: { message: 'disk I/O error\n    at stack' } })!,
    /^\d\d:\d\d:\d\d error: lease sweep failed: disk I\/O error$/,
  );
  assert.match(prettyLine({ level: 40, time: at, msg: 'job 1 lost \x1b]0;title\x07' })!, / warning: job 1 lost \\x1b\]0;title\\x07$/);

  for (const route of [RunnerRoutePaths.heartbeat, RunnerRoutePaths.poll, RunnerRoutePaths.logs, RunnerRoutePaths.complete]) {
    assert.equal(quietRequest(route, 'info'), true, route);
    assert.equal(quietRequest(route, 'debug'), false, route);
  }
  for (const route of ['/api/jobs', '/api/runners', RunnerRoutePaths.register, RunnerRoutePaths.transcript, '/git/:repo/info/refs', undefined])
    assert.equal(quietRequest(route, 'info'), false, route);
});

test('a bad log format is one line', async (t) => {
  const r = await run(process.execPath, [CLI, 'server', '--port', '0', '--data', tempDir(t), '--log-format', 'fancy']);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr, 'lazyaf: the log format must be json or pretty (--log-format, LAZYAF_LOG_FORMAT), got "fancy"\n');
});

test('--launcher docker without an engine is one line on a terminal too, and a non-zero exit', async (t) => {
  const argv = [process.execPath, CLI, 'server', '--launcher', 'docker', '--port', '0', '--data', path.join(tempDir(t), 'data')];
  const r = await run('script', ['-qfec', argv.map(shellQuote).join(' '), '/dev/null'], { env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent.sock' } });
  assert.notEqual(r.code, 0);
  assert.match(r.stdout, /^lazyaf: cannot reach the Docker engine at unix:\/\/\/nonexistent\.sock \(DOCKER_HOST\): [^\n]*\r?\n$/);
});

test('an exception nothing caught is logged as a bug, and the server carries on answering', async (t) => {
  // Planted through NODE_OPTIONS: once the server listens (the test's SIGUSR2 says so; a fixed delay
  // fired before a slow start had its handlers), a timer throws and a promise is rejected unhandled.
  const fault = "process.once('SIGUSR2', () => setTimeout(() => { Promise.reject(new Error('planted rejection')); throw new Error('planted exception'); }));";
  const server = await startTestServer(
    t,
    { NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(fault)}` },
    { dataDir: tempDir(t, 'lazyaf-data-'), logLevel: 'error' },
  );
  server.child.kill('SIGUSR2');
  const logged = await eventually('both faults logged', () => {
    const lines = server
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string } });
    return lines.length >= 2 && lines;
  });
  assert.deepEqual(logged.map((l) => [l.level, l.msg, l.err?.message]).sort(), [
    [50, 'uncaught exception (a bug; the server carries on)', 'planted exception'],
    [50, 'unhandled promise rejection (a bug; the server carries on)', 'planted rejection'],
  ]);
  assert.equal((await api(server, 'GET', '/api/health')).status, 200);
  assert.equal(server.child.exitCode, null);
});
