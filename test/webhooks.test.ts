import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { DeliveryList, Job, Webhook, WebhookList } from '../src/shared/api.js';
import { api, cli, eventually, startTestServer, tempDir } from './helpers.js';
import { inProcessRunners, seedRepo, submit, waitForJob } from './queue-helpers.js';

const SECRET = 'a-test-secret-of-enough-length';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  /** What the receiver answered: a status, or 0 for a request it held without answering. */
  answered: number;
}

/**
 * A webhook receiver on 127.0.0.1: keeps every request, answers what `answer` says (a status, or
 * 'hang' to hold the request unanswered), and checks nothing itself; the tests do.
 */
async function receiver(t: TestContext, answer: (req: http.IncomingMessage, n: number) => number | 'hang' = () => 200) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = answer(req, received.length);
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered: reply === 'hang' ? 0 : reply });
      if (reply !== 'hang') res.writeHead(reply, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

const sign = (body: string, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

async function addWebhook(server: { url: string; token: string }, body: Record<string, unknown>): Promise<Webhook> {
  const r = await api<Webhook>(server, 'POST', '/api/webhooks', { secret: SECRET, events: ['job.finished'], ...body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

async function deliveries(server: { url: string; token: string }, webhookId?: string): Promise<DeliveryList['deliveries']> {
  const r = await api<DeliveryList>(server, 'GET', `/api/webhooks/deliveries${webhookId ? `?webhook_id=${webhookId}` : ''}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.deliveries;
}

/** A queued job no runner takes, cancelled: it finishes without a runner. */
async function finishQueuedJob(server: { url: string; token: string }, repoId: string, title = 'to cancel'): Promise<Job> {
  const job = await submit(server, { repo_id: repoId, title, command: 'true' });
  const r = await api<Job>(server, 'POST', `/api/jobs/${job.id}/cancel`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return job;
}

test('a command job that finishes delivers job.finished, signed over the exact body, with its headers; credentials in the URL become Basic auth and are never shown', async (t) => {
  const runner = inProcessRunners(t);
  const server = await startTestServer(t);
  const hook = await receiver(t);
  const withCreds = hook.url.replace('http://', 'http://hookuser:p%40ss@');
  const created = await addWebhook(server, { url: withCreds, events: ['job.finished', 'task.finished'] });
  assert.equal(created.url, hook.url.replace('http://', 'http://***@'));
  assert.ok(!JSON.stringify(created).includes(SECRET) && !JSON.stringify(created).includes('p%40ss'));
  const listed = await api<WebhookList>(server, 'GET', '/api/webhooks');
  assert.deepEqual(listed.body, { webhooks: [created], total: 1 });

  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  runner(server, 'r1');
  const job = await submit(server, { repo_id: repo.id, title: 'write a file', command: 'echo hi > out.txt' });
  const done = await waitForJob(server, job.id);
  assert.equal(done.status, 'succeeded', done.error ?? '');

  const got = await eventually('the delivery', () => hook.received[0]);
  assert.equal(got.headers['content-type'], 'application/json');
  assert.equal(got.headers['x-lazyaf-event'], 'job.finished');
  assert.equal(got.headers['x-lazyaf-signature'], sign(got.body));
  assert.equal(got.headers.authorization, `Basic ${Buffer.from('hookuser:p@ss').toString('base64')}`);
  const payload = JSON.parse(got.body) as { id: string; event: string; created_at: string; job: Job };
  assert.equal(payload.id, got.headers['x-lazyaf-delivery']);
  assert.equal(payload.event, 'job.finished');
  assert.equal(payload.job.id, job.id);
  assert.equal(payload.job.status, 'succeeded');
  assert.equal(payload.job.branch, `lazyaf/${job.id.slice(0, 8)}`);
  assert.equal(payload.job.repo_name, 'demo');
  assert.ok(!Number.isNaN(Date.parse(payload.created_at)));

  const [logged] = await eventually('the delivery logged as delivered', async () => {
    const list = await deliveries(server);
    return list[0]?.status === 'delivered' && list;
  });
  assert.equal(logged!.id, payload.id);
  assert.equal(logged!.attempts, 1);
  assert.equal(logged!.last_status_code, 200);
  assert.equal(logged!.next_attempt_at, null);
  assert.ok(logged!.delivered_at);
  // A job without a task is no task.finished, and nothing is sent twice.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(hook.received.length, 1);
});

test('a receiver answering 500 gets the same delivery again with backoff until it answers 2xx; a redirect is not followed', async (t) => {
  const server = await startTestServer(t, { LAZYAF_WEBHOOK_RETRY_MS: '50' });
  const hook = await receiver(t, (_req, n) => (n < 2 ? 500 : 204));
  const elsewhere = await receiver(t);
  const redirecting = await receiver(t, () => 302);
  const created = await addWebhook(server, { url: hook.url });
  const redirected = await addWebhook(server, { url: redirecting.url });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  await finishQueuedJob(server, repo.id);

  await eventually('three attempts', () => hook.received.length >= 3);
  const ids = new Set(hook.received.map((r) => r.headers['x-lazyaf-delivery']));
  assert.equal(ids.size, 1, 'one delivery, tried three times');
  assert.equal(new Set(hook.received.map((r) => r.body)).size, 1, 'the same body each time');
  for (const r of hook.received) assert.equal(r.headers['x-lazyaf-signature'], sign(r.body));
  const [d] = await eventually('delivered', async () => {
    const list = await deliveries(server, created.id);
    return list[0]?.status === 'delivered' && list;
  });
  assert.equal(d!.attempts, 3);
  assert.equal(d!.last_status_code, 204);
  assert.equal(d!.last_error, null);

  await eventually('the redirect tried again', () => redirecting.received.length >= 2);
  const [r] = await deliveries(server, redirected.id);
  assert.equal(r!.status, 'pending');
  assert.equal(r!.last_status_code, 302);
  assert.match(r!.last_error ?? '', /redirects are not followed/);
  assert.equal(elsewhere.received.length, 0);
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(hook.received.length, 3, 'nothing more once delivered');
});

test('one delivery in flight per webhook, in order; a receiver that does not answer holds back only its own', async (t) => {
  const server = await startTestServer(t, { LAZYAF_WEBHOOK_TIMEOUT_MS: '1500', LAZYAF_WEBHOOK_RETRY_MS: '50' });
  const slow = await receiver(t, (_req, n) => (n === 0 ? 'hang' : 200));
  const fast = await receiver(t);
  await addWebhook(server, { url: slow.url });
  await addWebhook(server, { url: fast.url });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const first = await finishQueuedJob(server, repo.id, 'first');
  const second = await finishQueuedJob(server, repo.id, 'second');
  await eventually('both at the fast receiver', () => fast.received.length === 2);
  assert.deepEqual(
    fast.received.map((r) => (JSON.parse(r.body) as { job: Job }).job.id),
    [first.id, second.id],
  );
  assert.equal(slow.received.length, 1, 'the slow one holds its first; its second waits');
  await eventually('the slow receiver, after the timeout, gets the first again and then the second', () => slow.received.length >= 3, 15_000);
  assert.deepEqual(
    slow.received.map((r) => (JSON.parse(r.body) as { job: Job }).job.id),
    [first.id, first.id, second.id],
  );
  assert.equal((await api(server, 'GET', '/api/health')).status, 200);
});

test("task.finished when a task's last job finishes, in the same transaction; a notification in a transaction that rolls back writes nothing", async (t) => {
  const server = await startTestServer(t);
  const hook = await receiver(t);
  await addWebhook(server, { url: hook.url, events: ['task.finished', 'job.finished'] });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const a = await submit(server, { repo_id: repo.id, title: 'candidate a', command: 'true' });
  const b = await submit(server, { repo_id: repo.id, title: 'candidate b', command: 'true' });
  // The tasks' own API makes this row; here it is made by hand, as that API would.
  server.ctx.db.prepare('INSERT INTO tasks (id, repo_id, title, created_ms) VALUES (?, ?, ?, ?)').run('task-1', repo.id, 'one task', Date.now());
  server.ctx.db.prepare("UPDATE jobs SET task_id = 'task-1' WHERE id IN (?, ?)").run(a.id, b.id);

  await api(server, 'POST', `/api/jobs/${a.id}/cancel`);
  await eventually('job.finished of a', () => hook.received.length === 1);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(hook.received.length, 1, 'the task has a job still queued');
  await api(server, 'POST', `/api/jobs/${b.id}/cancel`);
  await eventually('job.finished and task.finished', () => hook.received.length === 3);
  const task = hook.received.find((r) => r.headers['x-lazyaf-event'] === 'task.finished')!;
  const payload = JSON.parse(task.body) as { event: string; task: unknown; job?: unknown };
  assert.deepEqual(payload.task, {
    id: 'task-1',
    title: 'one task',
    repo_id: repo.id,
    picked_job_id: null,
    jobs: [
      { id: a.id, status: 'cancelled', choice: null },
      { id: b.id, status: 'cancelled', choice: null },
    ],
  });
  assert.equal(payload.job, undefined);

  const before = (await deliveries(server)).length;
  assert.throws(() =>
    server.ctx.db.transaction(() => {
      server.ctx.notify('job.finished', { job_id: a.id });
      throw new Error('rolled back');
    })(),
  );
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await deliveries(server)).length, before);
  assert.equal(hook.received.length, 3);
});

test('the Slack format: {"text"} with one line, its title escaped, signed like the rest', async (t) => {
  const server = await startTestServer(t);
  const hook = await receiver(t);
  await addWebhook(server, { url: hook.url, format: 'slack' });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const job = await finishQueuedJob(server, repo.id, 'fix <!channel> & <http://x|y>\nnext line');
  const got = await eventually('the delivery', () => hook.received[0]);
  assert.equal(got.headers['x-lazyaf-signature'], sign(got.body));
  assert.deepEqual(JSON.parse(got.body), {
    text: `lazyaf: job ${job.id.slice(0, 8)} "fix &lt;!channel&gt; &amp; &lt;http://x|y&gt; next line" in demo cancelled`,
  });
});

test('the webhooks API refuses hostile input, never shows a secret, answers 404 for what does not exist, and deletes deliveries with their webhook', async (t) => {
  const server = await startTestServer(t);
  const good = { url: 'https://hooks.example.com/x', events: ['job.finished'], secret: SECRET };
  const bad: [string, unknown][] = [
    ['ftp url', { ...good, url: 'ftp://hooks.example.com/x' }],
    ['javascript url', { ...good, url: 'javascript:alert(1)' }],
    ['file url', { ...good, url: 'file:///etc/passwd' }],
    ['no url', { events: good.events, secret: SECRET }],
    ['not a url', { ...good, url: 'hooks' }],
    ['spaces', { ...good, url: 'https://hooks.example.com/a b' }],
    ['newline', { ...good, url: 'https://hooks.example.com/a\nb' }],
    ['huge url', { ...good, url: `https://h.example.com/${'a'.repeat(5000)}` }],
    ['url as a number', { ...good, url: 12345 }],
    ['url as an array', { ...good, url: ['https://hooks.example.com/x'] }],
    ['unknown event', { ...good, events: ['job.exploded'] }],
    ['no events', { ...good, events: [] }],
    ['repeated events', { ...good, events: ['job.finished', 'job.finished'] }],
    ['short secret', { ...good, secret: 'short' }],
    ['numeric secret', { ...good, secret: 1234567890123456 }],
    ['no secret', { url: good.url, events: good.events }],
    ['unknown format', { ...good, format: 'xml' }],
    ['extra field', { ...good, admin: true }],
    ['an array', [good]],
    ['malformed JSON', '{"url": '],
    ['deep JSON', '['.repeat(5000) + ']'.repeat(5000)],
  ];
  for (const [what, body] of bad) {
    const r = await api(server, 'POST', '/api/webhooks', body);
    assert.ok(r.status >= 400 && r.status < 500, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  assert.equal((await api(server, 'POST', '/api/webhooks', good, { token: null })).status, 401);
  assert.equal((await api(server, 'POST', '/api/webhooks', good, { token: server.registrationToken })).status, 401);
  assert.equal((await api(server, 'GET', '/api/webhooks', undefined, { token: null })).status, 401);
  assert.equal((await api(server, 'GET', '/api/webhooks/deliveries', undefined, { token: 'nope' })).status, 401);
  assert.deepEqual((await api<WebhookList>(server, 'GET', '/api/webhooks')).body, { webhooks: [], total: 0 });

  const hook = await receiver(t);
  const created = await addWebhook(server, { url: hook.url });
  assert.equal(created.format, 'json');
  assert.deepEqual(Object.keys(created).sort(), ['created_at', 'events', 'format', 'id', 'url']);
  const long = await api(server, 'DELETE', `/api/webhooks/${'x'.repeat(300)}`);
  assert.ok(long.status >= 400 && long.status < 500, `a long id: ${long.status}`);
  for (const id of ['nope', '../../etc/passwd', '%00', 'x'.repeat(64)]) {
    assert.equal((await api(server, 'DELETE', `/api/webhooks/${encodeURIComponent(id)}`)).status, 404, id);
    assert.equal((await api(server, 'GET', `/api/webhooks/deliveries?webhook_id=${encodeURIComponent(id)}`)).status, 404, id);
  }
  for (const q of ['limit=0', 'limit=501', 'limit=x', 'other=1', `webhook_id=${'x'.repeat(65)}`])
    assert.equal((await api(server, 'GET', `/api/webhooks/deliveries?${q}`)).status, 400, q);

  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  await finishQueuedJob(server, repo.id);
  await eventually('delivered', async () => (await deliveries(server, created.id))[0]?.status === 'delivered');
  assert.equal((await api(server, 'DELETE', `/api/webhooks/${created.id}`)).status, 204);
  assert.equal((await api(server, 'DELETE', `/api/webhooks/${created.id}`)).status, 404);
  assert.deepEqual(await deliveries(server), []);
});

test('lazyaf webhooks: add (the secret from stdin), list, deliveries, delete', async (t) => {
  const server = await startTestServer(t);
  const hook = await receiver(t);
  const add = await cli(['webhooks', 'add', hook.url, '--events', 'job.finished,task.finished', '--format', 'slack'], { server, input: `${SECRET}\n` });
  assert.equal(add.code, 0, add.stderr);
  const id = /Added webhook (\S+) to /.exec(add.stdout)?.[1];
  assert.ok(id, add.stdout);
  const wrong = await cli(['webhooks', 'add', hook.url, '--events', 'job.exploded', '--secret', SECRET], { server });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /unknown event job\.exploded: the events are job\.finished, job\.landed, task\.finished, task\.picked/);
  const short = await cli(['webhooks', 'add', hook.url, '--events', 'job.finished'], { server, input: 'short\n' });
  assert.equal(short.code, 1);
  assert.match(short.stderr, /the secret must be 16 to 256 characters/);
  const empty = await cli(['webhooks', 'add', hook.url, '--events', 'job.finished'], { server, input: '' });
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /no secret: stdin was empty/);
  const ftp = await cli(['webhooks', 'add', 'ftp://x.example.com/', '--events', 'job.finished', '--secret', SECRET], { server });
  assert.equal(ftp.code, 1);
  assert.match(ftp.stderr, /only http and https/);

  const list = await cli(['webhooks', 'list'], { server });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${id}\\s+${hook.url.replace(/[.]/g, '\\.')}\\s+job\\.finished,task\\.finished\\s+slack`));
  assert.ok(!list.stdout.includes(SECRET));

  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  await finishQueuedJob(server, repo.id);
  await eventually('delivered', async () => (await deliveries(server, id))[0]?.status === 'delivered');
  // A webhook is named as a job is: by its id or a unique prefix.
  const log = await cli(['webhooks', 'deliveries', '--webhook', id!.slice(0, 6)], { server });
  assert.equal(log.code, 0, log.stderr);
  assert.match(log.stdout, /job\.finished\s+delivered\s+1\s+HTTP 200/);
  const json = await cli(['webhooks', 'deliveries', '--json'], { server });
  assert.equal((JSON.parse(json.stdout) as unknown[]).length, 1);

  const del = await cli(['webhooks', 'delete', id!.slice(0, 6)], { server });
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stdout, new RegExp(`Deleted webhook ${id}`));
  const again = await cli(['webhooks', 'delete', id!], { server });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /no webhook ".+" \(lazyaf webhooks list shows their ids\)/);
  assert.match((await cli(['webhooks', 'list'], { server })).stdout, /No webhooks/);
});

test('across a server crash and restart: a pending delivery, and one cut in flight, are delivered after the restart; a delivered one is never sent again', async (t) => {
  const dataDir = tempDir(t);
  // The hanging receiver must still be holding its request when the server is killed.
  const env = { LAZYAF_WEBHOOK_RETRY_MS: '100', LAZYAF_WEBHOOK_TIMEOUT_MS: '5000' };
  let crashed = false;
  const steady = await receiver(t);
  const failing = await receiver(t, () => (crashed ? 200 : 500));
  const hanging = await receiver(t, () => (crashed ? 200 : 'hang'));
  const first = await startTestServer(t, env, { dataDir });
  const steadyHook = await addWebhook(first, { url: steady.url });
  const failingHook = await addWebhook(first, { url: failing.url });
  const hangingHook = await addWebhook(first, { url: hanging.url });
  const repo = await seedRepo(first, path.join(tempDir(t), 'src'));
  const job = await submit(first, { repo_id: repo.id, title: 'cancelled', command: 'true' });
  await api(first, 'POST', `/api/jobs/${job.id}/cancel`);
  await eventually('delivered to the steady one', async () => (await deliveries(first, steadyHook.id))[0]?.status === 'delivered');
  await eventually('the failing one tried', () => failing.received.length >= 1);
  await eventually('the hanging one holding it', () => hanging.received.length === 1);

  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('close', resolve));
  crashed = true;
  const second = await startTestServer(t, env, { dataDir });
  await eventually('the failing and the hanging ones delivered after the restart', async () => {
    const all = await deliveries(second);
    return all.length === 3 && all.every((d) => d.status === 'delivered');
  });
  // Time for a wrongly repeated send to show.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(steady.received.length, 1, 'the delivered one was not sent again');
  const answered2xx = (list: Received[]) => list.filter((r) => r.answered >= 200 && r.answered < 300);
  assert.equal(answered2xx(failing.received).length, 1);
  assert.equal(answered2xx(hanging.received).length, 1);
  // Every try of one delivery carries its id and the same body: a receiver drops a repeat by the id.
  for (const list of [failing.received, hanging.received]) {
    assert.equal(new Set(list.map((r) => r.headers['x-lazyaf-delivery'])).size, 1);
    assert.equal(new Set(list.map((r) => r.body)).size, 1);
  }
  const [hung] = await deliveries(second, hangingHook.id);
  assert.equal(hung!.attempts, 2, 'the attempt cut by the crash, and the one after the restart');
  assert.equal(hanging.received.length, 2);
  const [failed] = await deliveries(second, failingHook.id);
  assert.equal(failed!.last_status_code, 200);
});

test('a delivery is given up as failed after its last attempt, and not sent again', async (t) => {
  const server = await startTestServer(t, { LAZYAF_WEBHOOK_RETRY_MS: '20', LAZYAF_WEBHOOK_ATTEMPTS: '3' });
  const hook = await receiver(t, () => 503);
  const created = await addWebhook(server, { url: hook.url });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  await finishQueuedJob(server, repo.id);
  const [d] = await eventually('failed', async () => {
    const list = await deliveries(server, created.id);
    return list[0]?.status === 'failed' && list;
  });
  assert.equal(d!.attempts, 3);
  assert.equal(d!.last_status_code, 503);
  assert.equal(d!.next_attempt_at, null);
  assert.equal(d!.delivered_at, null);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(hook.received.length, 3);
});

test('a delivery cut by a graceful shutdown (SIGTERM) is sent at once after the restart, with the same id', async (t) => {
  const dataDir = tempDir(t);
  // Longer than the test waits: the delivery after the restart does not wait out a timeout.
  const env = { LAZYAF_WEBHOOK_RETRY_MS: '100', LAZYAF_WEBHOOK_TIMEOUT_MS: '60000' };
  let restarted = false;
  const hook = await receiver(t, () => (restarted ? 200 : 'hang'));
  const first = await startTestServer(t, env, { dataDir });
  const created = await addWebhook(first, { url: hook.url });
  const repo = await seedRepo(first, path.join(tempDir(t), 'src'));
  await finishQueuedJob(first, repo.id);
  await eventually('the receiver holding it', () => hook.received.length === 1);
  first.child.kill('SIGTERM');
  await new Promise((resolve) => first.child.once('close', resolve));
  restarted = true;
  const second = await startTestServer(t, env, { dataDir });
  const [d] = await eventually(
    'delivered after the restart',
    async () => {
      const list = await deliveries(second, created.id);
      return list[0]?.status === 'delivered' && list;
    },
    20_000,
  );
  assert.equal(d!.attempts, 2);
  assert.equal(hook.received.length, 2);
  assert.equal(hook.received[0]!.headers['x-lazyaf-delivery'], hook.received[1]!.headers['x-lazyaf-delivery']);
});
