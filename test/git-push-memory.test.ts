import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { assertFsckClean, pushUrl } from './git-helpers.js';
import { barePath, createRepo, git, makeRepo, startTestServer, tempDir } from './helpers.js';

const MiB = 1024 * 1024;

/** How far the bytes of live Buffers (`arrayBuffers`) rose above where they were while `op` ran, in MiB. */
async function buffersGrowth(op: () => Promise<unknown>): Promise<number> {
  const baseline = process.memoryUsage().arrayBuffers;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }, 5);
  try {
    await op();
  } finally {
    clearInterval(sampler);
  }
  return (peak - baseline) / MiB;
}

// Node's HTTP parser copies every piece of a body into a Buffer of its own; left to V8, a pushed
// pack's dead copies piled up to about 32 MiB before the first collection, and glibc kept the
// pages (young-garbage.ts). The server runs in this process, so its Buffers are ours to count.
test('a large push or clone leaves only a few MiB of Buffers alive at a time, and the push lands checked and whole', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const src = await makeRepo(path.join(dir, 'src'), { 'README.md': 'big\n' });
  // Random bytes: git's zlib cannot shrink them, so the pack is as large as the file.
  fs.writeFileSync(path.join(src, 'blob.bin'), crypto.randomBytes(32 * MiB));
  await git(['add', 'blob.bin'], src);
  await git(['commit', '-q', '-m', 'big'], src);
  const repo = await createRepo(server, 'big');

  const push = await buffersGrowth(() => git(['push', '-q', pushUrl(server, repo), 'main'], src));
  t.diagnostic(`Buffers alive at once during the push: +${push.toFixed(1)} MiB at most`);
  // Collected every 4 MiB: a few MiB are in flight; without it, about the whole pack.
  assert.ok(push < 14, `Buffers alive at once grew by ${push.toFixed(1)} MiB during a 32 MiB push`);
  assert.equal(await git(['rev-parse', 'main'], barePath(server.dataDir, repo.id)), await git(['rev-parse', 'HEAD'], src));
  await assertFsckClean(barePath(server.dataDir, repo.id));

  // A clone's pack, read from git's pipe, is the same.
  const dest = path.join(dir, 'clone.git');
  const clone = await buffersGrowth(() => git(['clone', '-q', '--bare', pushUrl(server, repo), dest]));
  t.diagnostic(`Buffers alive at once during the clone: +${clone.toFixed(1)} MiB at most`);
  assert.ok(clone < 14, `Buffers alive at once grew by ${clone.toFixed(1)} MiB during a 32 MiB clone`);
  assert.equal(await git(['rev-parse', 'main'], dest), await git(['rev-parse', 'HEAD'], src));
});
