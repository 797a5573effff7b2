import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { readStream, startTestServer, tempDir } from './helpers.js';
import { seedRepo, submit } from './queue-helpers.js';

test('the event stream carries job and branch events as they happen, and needs the admin token', async (t) => {
  const server = await startTestServer(t);
  assert.equal((await fetch(`${server.url}/api/events`)).status, 401);

  const abort = new AbortController();
  t.after(() => abort.abort());
  const res = await fetch(`${server.url}/api/events`, { headers: { authorization: `Bearer ${server.token}` }, signal: abort.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const stream = readStream(t, res, 'the event stream');

  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  await stream.until(/event: branches.updated\ndata: .*"repo_id":"[^"]+"/, 10_000);
  const job = await submit(server, { repo_id: repo.id, title: 't', command: 'true' });
  await stream.until(new RegExp(`event: job.created\\ndata: .*"job_id":"${job.id}"`), 10_000);
});
