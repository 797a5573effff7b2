import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { startTestServer, tempDir } from './helpers.js';
import { seedRepo, submit } from './queue-helpers.js';

test('the event stream carries job and branch events as they happen, and needs the admin token', async (t) => {
  const server = await startTestServer(t);
  assert.equal((await fetch(`${server.url}/api/events`)).status, 401);

  const abort = new AbortController();
  t.after(() => abort.abort());
  const res = await fetch(`${server.url}/api/events`, { headers: { authorization: `Bearer ${server.token}` }, signal: abort.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = res.body!.getReader();
  let text = '';
  // A read waits for the server's next event; without a bound a missing event would hang the test.
  const until = async (re: RegExp, timeoutMs = 10_000) => {
    const timer = setTimeout(() => abort.abort(new Error(`timed out waiting for ${re}; got:\n${text}`)), timeoutMs);
    try {
      while (!re.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${re}; got:\n${text}`);
        text += Buffer.from(value).toString('utf8');
      }
    } finally {
      clearTimeout(timer);
    }
  };

  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  await until(/event: branches.updated\ndata: .*"repo_id":"[^"]+"/);
  const job = await submit(server, { repo_id: repo.id, title: 't', command: 'true' });
  await until(new RegExp(`event: job.created\\ndata: .*"job_id":"${job.id}"`));
});
