import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { api, authUrl, barePath, branchTip, commitFiles, eventually, git, startTestServer, tempDir, tryGit } from './helpers.js';
import { getJob, poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

/**
 * A proxy in front of the server that holds back the last bytes of each receive-pack request
 * body until `release()`: a push that started under a live lease and is still arriving.
 */
async function holdingProxy(t: TestContext, target: string): Promise<{ url: string; held: Promise<void>; release: () => void }> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let markHeld!: () => void;
  const held = new Promise<void>((r) => (markHeld = r));
  const proxy = http.createServer(async (req, res) => {
    const body: Buffer[] = [];
    for await (const c of req) body.push(c as Buffer);
    const all = Buffer.concat(body);
    const upstream = http.request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    if (!req.url?.endsWith('/git-receive-pack')) return upstream.end(all);
    upstream.write(all.subarray(0, -10));
    markHeld();
    await released;
    upstream.end(all.subarray(-10));
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  t.after(() => {
    release();
    proxy.closeAllConnections();
    proxy.close();
  });
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, held, release };
}

test('a push that started under a live lease is refused when the lease is gone by the time its refs would move', async (t) => {
  const server = await startTestServer(t, { LAZYAF_LEASE_TTL: '2' });
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  const r = await registerRunner(server, 'r');
  const job = await submit(server, { repo_id: repo.id, title: 'slow push', command: 'true' });
  const a = await poll(server, r.token);
  assert.equal(a?.job_id, job.id);
  let renewing = true;
  const renew = (async () => {
    while (renewing) {
      await api(server, 'POST', RunnerRoutes.heartbeat, { status: 'busy', attempts: [a.attempt_id] }, { token: r.token });
      await new Promise((res) => setTimeout(res, 200));
    }
  })();

  const work = path.join(dir, 'work');
  await git(['clone', '-q', authUrl(a.clone_url, a.job_token), work]);
  await commitFiles(work, { 'late.txt': 'from a lost attempt\n' }, 'late work');
  const proxy = await holdingProxy(t, server.url);
  const viaProxy = new URL(new URL(a.clone_url).pathname, proxy.url).toString();
  const push = tryGit(['push', authUrl(viaProxy, a.job_token), `HEAD:refs/heads/${a.branch}`], work);
  await proxy.held;
  renewing = false;
  await renew;
  await eventually('the lease to be lost', async () => (await getJob(server, job.id)).attempts?.[0]?.end_reason === 'lost');

  proxy.release();
  const result = await push;
  assert.notEqual(result.code, 0, 'the push is refused');
  assert.match(result.stderr, /lease/);
  assert.equal(await branchTip(barePath(server.dataDir, repo.id), a.branch), undefined, 'the branch did not move');
});
