import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { Value } from 'typebox/value';
import { LiveEvent } from '../src/shared/api.js';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { api, authUrl, eventually, git, makeRepo, readStream, startTestServer, tempDir, type TestServer } from './helpers.js';
import { poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

/**
 * Reads `/api/events` as a client would. Every event must validate against `LiveEvent` and carry
 * its type as the SSE event name; `saw` waits (bounded) for one matching the given fields, among
 * the events from index `from` on. The server subscribes before it sends the headers `fetch` waits for.
 */
async function watchEvents(t: TestContext, server: TestServer) {
  const abort = new AbortController();
  t.after(() => abort.abort());
  const res = await fetch(`${server.url}/api/events`, { headers: { authorization: `Bearer ${server.token}` }, signal: abort.signal });
  assert.equal(res.status, 200);
  const stream = readStream(t, res, 'the event stream');
  const events: LiveEvent[] = [];
  const invalid: string[] = [];
  let parsed = 0;
  // Takes in the events the stream's text holds whole since the last look.
  const parse = () => {
    const text = stream.text();
    for (let end = text.indexOf('\n\n', parsed); end >= 0; end = text.indexOf('\n\n', parsed)) {
      const block = text.slice(parsed, end);
      parsed = end + 2;
      const name = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data === undefined) continue;
      const event: unknown = JSON.parse(data);
      if (Value.Check(LiveEvent, event) && event.type === name) events.push(event);
      else invalid.push(block);
    }
  };
  return {
    get events() {
      parse();
      return events;
    },
    get invalid() {
      parse();
      return invalid;
    },
    saw: (fields: Record<string, unknown>, from = 0) =>
      eventually(
        () => `an event ${JSON.stringify(fields)}; saw ${JSON.stringify(events)}`,
        async () => {
          parse();
          return events.slice(from).find((e) => Object.entries(fields).every(([k, v]) => (e as Record<string, unknown>)[k] === v));
        },
      ),
  };
}

test('every state change made through the API emits its event, and every event validates against LiveEvent', async (t) => {
  const server = await startTestServer(t);
  const live = await watchEvents(t, server);

  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  await live.saw({ type: 'repo.created', repo_id: repo.id, name: 'demo' });
  await live.saw({ type: 'branches.updated', repo_id: repo.id, by: 'admin' });
  assert.equal((await api(server, 'PATCH', `/api/repos/${repo.id}`, { name: 'renamed' })).status, 200);
  await live.saw({ type: 'repo.updated', repo_id: repo.id, name: 'renamed' });

  const runner = await registerRunner(server, 'r1');
  await live.saw({ type: 'runner.registered', runner_id: runner.runner_id, name: 'r1' });
  const job = await submit(server, { repo_id: repo.id, title: 'j', command: 'true' });
  await live.saw({ type: 'job.created', job_id: job.id, status: 'queued' });

  const a = (await poll(server, runner.token))!;
  await live.saw({ type: 'job.updated', job_id: job.id, status: 'running' });
  await live.saw({ type: 'attempt.started', attempt_id: a.attempt_id, job_id: job.id, runner_id: runner.runner_id, number: 1 });
  await live.saw({ type: 'runner.updated', runner_id: runner.runner_id, status: 'busy', job_id: job.id });
  const started = await live.saw({ type: 'log.appended', job_id: job.id });
  assert.equal((await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq: 1, data: 'hello\n' }, { token: a.job_token })).status, 200);
  await live.saw({ type: 'log.appended', job_id: job.id, log_bytes: (started as { log_bytes: number }).log_bytes + 6 });

  assert.equal((await api(server, 'POST', `/api/jobs/${job.id}/cancel`)).status, 200);
  // The cancel is news (the job is cancelling); the attempt ends when its runner reports.
  const cancelling = live.events.length;
  await live.saw({ type: 'job.updated', job_id: job.id, status: 'running' }, cancelling);
  const report = { outcome: 'cancelled', exit_code: null };
  assert.equal((await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), report, { token: a.job_token })).status, 200);
  await live.saw({ type: 'attempt.ended', attempt_id: a.attempt_id, reason: 'cancelled' });
  await live.saw({ type: 'job.updated', job_id: job.id, status: 'cancelled' });
  await live.saw({ type: 'runner.updated', runner_id: runner.runner_id, status: 'idle' });

  assert.equal((await api(server, 'POST', `/api/jobs/${job.id}/retry`)).status, 200);
  const retried = live.events.length;
  await live.saw({ type: 'job.updated', job_id: job.id, status: 'queued' });
  assert.equal((await api(server, 'POST', `/api/jobs/${job.id}/cancel`)).status, 200);
  await live.saw({ type: 'job.updated', job_id: job.id, status: 'cancelled' }, retried);

  const heartbeat = await api(server, 'POST', RunnerRoutes.heartbeat, { status: 'draining', attempts: [] }, { token: runner.token });
  assert.equal(heartbeat.status, 200);
  await live.saw({ type: 'runner.updated', runner_id: runner.runner_id, status: 'draining' });
  assert.equal((await api(server, 'DELETE', `/api/runners/${runner.runner_id}`)).status, 204);
  await live.saw({ type: 'runner.removed', runner_id: runner.runner_id });

  assert.equal((await api(server, 'PUT', '/api/pool', { desired: 0 })).status, 200);
  await live.saw({ type: 'pool.updated', desired: 0, running: 0 });
  assert.equal((await api(server, 'DELETE', `/api/repos/${repo.id}`)).status, 204);
  await live.saw({ type: 'repo.deleted', repo_id: repo.id });
  assert.deepEqual(live.invalid, []);
});

test('a first push that gives a repo its default branch emits repo.updated as well as branches.updated', async (t) => {
  const server = await startTestServer(t);
  const live = await watchEvents(t, server);
  const repo = (await api(server, 'POST', '/api/repos', { name: 'demo' })).body;
  const src = await makeRepo(path.join(tempDir(t), 'src'), { 'a.txt': 'a\n' });
  await git(['push', '-q', authUrl(repo.clone_url, server.token), 'main:dev'], src);
  await live.saw({ type: 'branches.updated', repo_id: repo.id, by: 'admin' });
  await live.saw({ type: 'repo.updated', repo_id: repo.id, name: 'demo' });
  assert.equal((await api(server, 'GET', `/api/repos/${repo.id}`)).body.default_branch, 'dev');
  assert.deepEqual(live.invalid, []);
});

test('the sweeper emits what it changes: a lost lease, a timeout, a runner gone offline and one pruned', async (t) => {
  const server = await startTestServer(t, { LAZYAF_LEASE_TTL: '3', LAZYAF_TIMEOUT_GRACE: '0', LAZYAF_RUNNER_PRUNE_AFTER: '1' });
  const live = await watchEvents(t, server);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const [r1, r2] = [await registerRunner(server, 'r1'), await registerRunner(server, 'r2')];
  const slow = await submit(server, { repo_id: repo.id, title: 'slow', command: 'true', timeout_s: 1 });
  const a1 = (await poll(server, r1.token))!;
  const vanished = await submit(server, { repo_id: repo.id, title: 'vanished', command: 'true' });
  const a2 = (await poll(server, r2.token))!;
  assert.equal(a1.job_id, slow.id);
  assert.equal(a2.job_id, vanished.id);

  await live.saw({ type: 'attempt.ended', attempt_id: a1.attempt_id, reason: 'timeout' });
  await live.saw({ type: 'job.updated', job_id: slow.id, status: 'failed' });
  await live.saw({ type: 'attempt.ended', attempt_id: a2.attempt_id, reason: 'lost' });
  await live.saw({ type: 'job.updated', job_id: vanished.id, status: 'queued' });
  await live.saw({ type: 'runner.updated', runner_id: r2.runner_id, status: 'offline' });
  await live.saw({ type: 'runner.removed', runner_id: r2.runner_id });
  assert.deepEqual(live.invalid, []);
});

test('a change that rolls back emits nothing: a lease whose end fails stays silent until it really ends', async (t) => {
  const server = await startTestServer(t, { LAZYAF_LEASE_TTL: '1' });
  const live = await watchEvents(t, server);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r1');
  const job = await submit(server, { repo_id: repo.id, title: 'j', command: 'true' });
  const a = (await poll(server, runner.token))!;
  // The claim's last event: every earlier one has arrived too.
  await live.saw({ type: 'runner.updated', runner_id: runner.runner_id, status: 'busy' });
  // The attempt's end line is the last write of its transaction, after the runner was set idle.
  server.ctx.db.exec(`CREATE TRIGGER planted BEFORE INSERT ON log_chunks WHEN NEW.job_id = '${job.id}' BEGIN SELECT RAISE(ABORT, 'planted failure'); END`);
  const claimed = live.events.length;
  // The runner is marked offline by the same sweep, just after its lease failed to end.
  await live.saw({ type: 'runner.updated', runner_id: runner.runner_id, status: 'offline' }, claimed);
  const leaked = live.events.slice(claimed).filter((e) => e.type !== 'runner.updated' || e.status !== 'offline');
  assert.deepEqual(leaked, []);
  assert.equal(server.ctx.store.attempts.get(a.attempt_id)?.active, 1);

  server.ctx.db.exec('DROP TRIGGER planted');
  await live.saw({ type: 'attempt.ended', attempt_id: a.attempt_id, reason: 'lost' }, claimed);
  await live.saw({ type: 'job.updated', job_id: job.id, status: 'queued' }, claimed);
  assert.deepEqual(live.invalid, []);
});

test('a transcript batch reaches the stream as transcript.appended with its entries, numbered', async (t) => {
  const server = await startTestServer(t);
  const live = await watchEvents(t, server);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r1', [], ['claude']);
  const job = await submit(server, { repo_id: repo.id, title: 'j', agent: 'claude' });
  const a = (await poll(server, runner.token))!;
  const entries = [
    { type: 'message', role: 'assistant', text: 'hello' },
    { type: 'tool', tool: 'Bash', kind: 'command', command: 'ls', exit_code: 0, status: 'ok' },
  ];
  assert.equal((await api(server, 'POST', RunnerRoutes.transcript(a.attempt_id), { seq: 1, entries }, { token: a.job_token })).status, 200);
  const event = await live.saw({ type: 'transcript.appended', job_id: job.id, attempt: 1 });
  assert.deepEqual(
    (event as { entries: unknown[] }).entries,
    entries.map((e, i) => ({ ...e, seq: i + 1 })),
  );
  assert.deepEqual(live.invalid, []);
});
