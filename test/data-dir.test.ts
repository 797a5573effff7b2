import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { createRepo, startTestServer, tempDir } from './helpers.js';

const mode = (p: string) => fs.statSync(p).mode & 0o777;

test('a data dir that already existed is made owner-only: the dir 0700, its files 0600, the hook 0700', async (t) => {
  const dataDir = tempDir(t);
  fs.chmodSync(dataDir, 0o755);
  // What an older version, or a permissive umask, left behind.
  for (const file of ['lazyaf.db', 'lazyaf.db-wal', 'admin_token', 'registration_token', 'agents.json']) {
    fs.writeFileSync(path.join(dataDir, file), file === 'agents.json' ? '{}' : file.endsWith('token') ? 'lzx_old\n' : '', { mode: 0o644 });
    fs.chmodSync(path.join(dataDir, file), 0o644);
  }
  fs.mkdirSync(path.join(dataDir, 'hooks'), { mode: 0o755 });
  fs.writeFileSync(path.join(dataDir, 'hooks', 'pre-receive'), '#!/bin/sh\n', { mode: 0o755 });
  fs.mkdirSync(path.join(dataDir, 'repos'), { mode: 0o755 });
  fs.chmodSync(path.join(dataDir, 'repos'), 0o755);

  // A permissive umask must not loosen what the server creates either.
  const umask = process.umask(0);
  let server;
  try {
    server = await startTestServer(t, {}, { dataDir });
  } finally {
    process.umask(umask);
  }
  await createRepo(server, 'modes');

  assert.equal(mode(dataDir), 0o700, 'the data dir');
  for (const entry of fs.readdirSync(dataDir, { withFileTypes: true })) {
    const p = path.join(dataDir, entry.name);
    assert.equal(mode(p), entry.isDirectory() ? 0o700 : 0o600, `${entry.name} is ${mode(p).toString(8)}`);
  }
  assert.ok(fs.existsSync(path.join(dataDir, 'lazyaf.db-shm')), 'SQLite made its -shm file');
  assert.equal(mode(path.join(dataDir, 'hooks', 'pre-receive')), 0o700, 'the hook runs for its owner only');
});
