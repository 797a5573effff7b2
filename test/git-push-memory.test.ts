import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { assertFsckClean, pushUrl } from './git-helpers.js';
import { barePath, createRepo, git, makeRepo, startTestServer, tempDir } from './helpers.js';

const MiB = 1024 * 1024;

// Node's HTTP parser copies every piece of a body into a Buffer of its own; left to V8, a pushed
// pack's dead copies piled up to about 32 MiB before the first collection, and glibc kept the
// pages (young-garbage.ts). The server runs in this process, so its Buffers are ours to count.
test('a large push leaves only a few MiB of body Buffers alive at a time, and lands checked and whole', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const src = await makeRepo(path.join(dir, 'src'), { 'README.md': 'big\n' });
  // Random bytes: git's zlib cannot shrink them, so the pack is as large as the file.
  fs.writeFileSync(path.join(src, 'blob.bin'), crypto.randomBytes(32 * MiB));
  await git(['add', 'blob.bin'], src);
  await git(['commit', '-q', '-m', 'big'], src);
  const repo = await createRepo(server, 'big');

  const baseline = process.memoryUsage().arrayBuffers;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }, 5);
  try {
    await git(['push', '-q', pushUrl(server, repo), 'main'], src);
  } finally {
    clearInterval(sampler);
  }
  const grew = (peak - baseline) / MiB;
  t.diagnostic(`body Buffers alive at once: +${grew.toFixed(1)} MiB at most`);
  // Collected every 4 MiB of body: a few MiB are in flight; without it, about the whole pack.
  assert.ok(grew < 14, `body Buffers alive at once grew by ${grew.toFixed(1)} MiB during a 32 MiB push`);

  assert.equal(await git(['rev-parse', 'main'], barePath(server.dataDir, repo.id)), await git(['rev-parse', 'HEAD'], src));
  await assertFsckClean(barePath(server.dataDir, repo.id));
});
