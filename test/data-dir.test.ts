import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { api, CLI, createRepo, eventually, spawnChild, startTestServer, tempDir } from './helpers.js';

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

/** `lazyaf server` on `dataDir` until it exits or says it listens: its exit code (null while it runs) and stderr. */
async function startAnother(t: test.TestContext, dataDir: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawnChild(t, process.execPath, [CLI, 'server', '--port', '0', '--data', dataDir, '--runners', '0', '--log-level', 'warn']);
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  let code: number | null = null;
  const closed = new Promise<void>((resolve) => child.on('close', (c) => ((code = c ?? 1), resolve())));
  await eventually('the server to exit or listen', () => code !== null || /listening on/.test(stderr), 60_000);
  if (code === null) child.kill('SIGKILL');
  else await closed;
  return { code, stderr };
}

test("one server per data dir: a second start refuses in one line naming the first one's pid; once the first is SIGKILLed, a new one starts", async (t) => {
  const dataDir = tempDir(t);
  // A pid file left behind whose pid now belongs to another process (this test) holds nothing.
  fs.writeFileSync(path.join(dataDir, 'server.pid'), `${process.pid}\n`);
  const first = await startTestServer(t, {}, { dataDir });

  const second = await startAnother(t, dataDir);
  assert.equal(second.stderr, `lazyaf: the data dir ${dataDir} is in use by another lazyaf server (pid ${first.child.pid})\n`);
  assert.equal(second.code, 1);
  assert.equal((await api(first, 'GET', '/api/health')).status, 200, 'the first server runs on');

  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('close', resolve));
  const third = await startTestServer(t, {}, { dataDir });
  await createRepo(third, 'after');
  assert.equal(fs.readFileSync(path.join(dataDir, 'server.pid'), 'utf8'), `${third.child.pid}\n`);
});
