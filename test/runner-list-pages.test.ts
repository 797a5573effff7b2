import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { RunnerList } from '../src/shared/api.js';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { api, cli, startTestServer, tempDir } from './helpers.js';
import { poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

// GET /api/runners pages newest first with a cursor: a fleet of thousands is listed page by page,
// each runner once, whatever registers in between.

const many = { LAZYAF_REGISTER_BURST: '1000' };
const list = (server: Parameters<typeof api>[0], query: string) => api<RunnerList>(server, 'GET', `/api/runners?${query}`);

test('paging through the runners with the cursor sees each once, while new ones register between the pages', async (t) => {
  const server = await startTestServer(t, many);
  const before: string[] = [];
  for (let i = 0; i < 23; i++) before.push((await registerRunner(server, `old-${i}`)).runner_id);

  const seen: string[] = [];
  const during: string[] = [];
  let page = (await list(server, 'limit=5')).body;
  assert.equal(page.total, 23);
  for (let pages = 1; ; pages++) {
    assert.ok(pages <= 10, 'the pages end');
    seen.push(...page.runners.map((r) => r.id));
    // Registered while a person pages: newer than every page to come.
    during.push((await registerRunner(server, `new-${pages}`)).runner_id);
    if (!page.next) break;
    assert.ok(page.runners.length === 5, 'a page before the last is full');
    const r = await list(server, `limit=5&cursor=${encodeURIComponent(page.next)}`);
    assert.equal(r.status, 200);
    page = r.body;
  }
  assert.equal(seen.length, new Set(seen).size, 'no runner on two pages');
  assert.deepEqual([...seen].sort(), [...before].sort(), 'every runner registered before the first page, and only those');
  const all = (await list(server, 'limit=1000')).body.runners;
  const times = all.map((r) => r.registered_at);
  assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
  assert.equal(all.length, before.length + during.length);
  // The runners registered while paging are the newest: a new first page starts with them.
  assert.deepEqual(new Set(all.slice(0, during.length).map((r) => r.id)), new Set(during));
});

test('the runner list filters by status, with the total of that status and its own pages', async (t) => {
  const server = await startTestServer(t, many);
  const runners = [];
  for (let i = 0; i < 7; i++) runners.push(await registerRunner(server, `r-${i}`));
  const draining = [runners[1]!, runners[4]!, runners[5]!];
  for (const r of draining) {
    const hb = await api(server, 'POST', RunnerRoutes.heartbeat, { status: 'draining', attempts: [] }, { token: r.token });
    assert.equal(hb.status, 200);
  }
  const first = (await list(server, 'status=draining&limit=2')).body;
  assert.equal(first.total, 3);
  assert.deepEqual(
    first.runners.map((r) => r.status),
    ['draining', 'draining'],
  );
  const second = (await list(server, `status=draining&limit=2&cursor=${first.next}`)).body;
  assert.equal(second.next, null);
  assert.deepEqual([...first.runners, ...second.runners].map((r) => r.id).sort(), draining.map((r) => r.runner_id).sort());
  assert.equal((await list(server, 'status=idle')).body.total, 4);
  assert.equal((await list(server, 'status=busy')).body.runners.length, 0);

  // A runner holding a job names it; the others none.
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const job = await submit(server, { repo_id: repo.id, title: 'held', command: 'sleep 100' });
  const worker = runners[0]!;
  assert.equal((await poll(server, worker.token))?.job_id, job.id);
  const busy = (await list(server, 'status=busy')).body;
  assert.deepEqual(
    busy.runners.map((r) => [r.id, r.current_job_id]),
    [[worker.runner_id, job.id]],
  );
  const others = (await list(server, 'limit=1000')).body.runners.filter((r) => r.id !== worker.runner_id);
  assert.ok(others.every((r) => r.current_job_id === null));
});

test('hostile cursors, limits and filters get a 400, never a 500', async (t) => {
  const server = await startTestServer(t, many);
  for (let i = 0; i < 3; i++) await registerRunner(server, `r-${i}`);
  const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
  const bad = [
    'cursor=x',
    'cursor=',
    `cursor=${'A'.repeat(300)}`,
    `cursor=${b64('not json')}`,
    `cursor=${b64({ registered_at: '2026-01-01T00:00:00.000Z', id: 'x' })}`,
    `cursor=${b64([1, 2])}`,
    `cursor=${b64(['2026-01-01T00:00:00.000Z'])}`,
    `cursor=${b64(['yesterday', 'id'])}`,
    `cursor=${b64(['2026-01-01T00:00:00.000Z', ''])}`,
    `cursor=${b64(['2026-01-01T00:00:00.000Z', 'x'.repeat(65)])}`,
    `cursor=${b64(['2026-01-01T00:00:00.000Z', 'id', 'extra'])}`,
    `cursor=${encodeURIComponent("' OR 1=1 --")}`,
    'cursor=a&cursor=b',
    'limit=0',
    'limit=1001',
    'limit=-1',
    'limit=abc',
    'limit=Infinity',
    'limit=1e400',
    'offset=-1',
    'offset=1&cursor=' + b64(['2026-01-01T00:00:00.000Z', 'id']),
    'status=gone',
    'status=idle&status=busy',
    'sort=name',
  ];
  for (const query of bad) {
    const r = await list(server, query);
    assert.equal(r.status, 400, `${query}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  // A well-formed cursor of no runner is a place in the order all the same.
  const future = await list(server, `cursor=${b64(['2999-01-01T00:00:00.000Z', 'zzz'])}`);
  assert.equal(future.status, 200);
  assert.equal(future.body.runners.length, 3);
  const past = await list(server, `cursor=${b64(['1999-01-01T00:00:00Z', 'a'])}`);
  assert.deepEqual([past.status, past.body.runners.length, past.body.next], [200, 0, null]);
});

test('lazyaf runners prints a page and the command for the next; --all prints every page', async (t) => {
  const server = await startTestServer(t, many);
  const names: string[] = [];
  // A few milliseconds apart, so that newest first is one order.
  for (let i = 0; i < 5; i++) {
    await registerRunner(server, `cli-${i}`);
    names.push(`cli-${i}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }

  const first = await cli(['runners', '--limit', '2'], { server });
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^cli-4\s/m);
  assert.match(first.stdout, /^cli-3\s/m);
  assert.doesNotMatch(first.stdout, /^cli-2\s/m);
  const hint = /\(2 of 5 runners shown; the next page: lazyaf runners --limit 2 --cursor (\S+), or --all\)/.exec(first.stdout);
  assert.ok(hint, first.stdout);
  const second = await cli(['runners', '--limit', '2', '--cursor', hint[1]!], { server });
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /^cli-2\s/m);
  assert.match(second.stdout, /^cli-1\s/m);
  assert.doesNotMatch(second.stdout, /^cli-(4|3)\s/m);

  const all = await cli(['runners', '--limit', '2', '--all', '--json'], { server });
  assert.equal(all.code, 0, all.stderr);
  const printed = JSON.parse(all.stdout) as { runners: { name: string }[]; next: string | null };
  assert.deepEqual(
    printed.runners.map((r) => r.name),
    [...names].reverse(),
  );
  assert.equal(printed.next, null);

  const refused = await cli(['runners', '--cursor', 'nonsense'], { server });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /invalid cursor/);
});
