import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startCheckpointer } from '../src/server/db/checkpointer.js';
import { openDb } from '../src/server/db/index.js';
import { ProcessLauncher } from '../src/server/pool/launcher.js';
import type { RunnerList } from '../src/shared/api.js';
import { api, CLI, eventually, ROOT, run, startTestServer, tempDir } from './helpers.js';
import { processesMatching } from './queue-helpers.js';

// These tests run the sources under tsx: what the server starts must be the sources too, never
// whatever build dist/ holds.

test('a pool runner started from the sources runs the sources, and registers', async (t) => {
  const server = await startTestServer(t);
  const launcher = new ProcessLauncher(server.dataDir, () => {});
  const runner = await launcher.launch({ poolId: 'pool-src', serverUrl: server.url, registrationToken: server.ctx.registrationToken, ephemeral: false });
  t.after(async () => {
    runner.kill();
    await runner.exited;
  });
  await eventually('the runner to register', async () => {
    const list = (await api<RunnerList>(server, 'GET', '/api/runners')).body;
    return list.runners.some((r) => r.pool_id === 'pool-src' && r.status === 'idle');
  });
  const sourceCli = path.join(ROOT, 'src', 'cli', 'main.ts');
  assert.equal(processesMatching(`${sourceCli} runner --name pool-src `).length, 1, `the runner runs ${sourceCli}`);
});

test('the checkpoint worker, started from the sources as from the build, copies the WAL into the database', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'lazyaf.db');
  const db = openDb(file);
  let failure: Error | undefined;
  const checkpointer = startCheckpointer(db, file, (err) => (failure = err), 50);
  t.after(async () => {
    await checkpointer.stop();
    db.close();
  });
  const before = fs.statSync(file).size;
  // About 2 MiB of log rows: the server's own connection no longer checkpoints that little.
  db.exec("INSERT INTO repos (id, name, default_branch, created_at, updated_at) VALUES ('r', 'r', 'main', '', '')");
  db.exec(
    "INSERT INTO jobs (id, seq, repo_id, title, description, agent, base_branch, branch_name, labels, timeout_s, max_attempts, status, created_at, updated_at) VALUES ('j', 1, 'r', 't', '', 'shell', 'main', 'lazyaf/j', '[]', 60, 3, 'queued', '', '')",
  );
  const insert = db.prepare('INSERT INTO log_chunks (job_id, offset, data) VALUES (?, ?, ?)');
  for (let i = 0; i < 512; i++) insert.run('j', i * 4096, Buffer.alloc(4096, 0x61));
  await eventually('the WAL to reach the database file', async () => fs.statSync(file).size > before + 1024 * 1024);
  assert.equal(failure, undefined);
});

test('a checkpoint worker that fails says so instead of vanishing', async (t) => {
  const dir = tempDir(t);
  const db = openDb(path.join(dir, 'lazyaf.db'));
  t.after(() => db.close());
  let failure: Error | undefined;
  // The worker opens its own connection: to a file it cannot open, here.
  const checkpointer = startCheckpointer(db, path.join(dir, 'missing', 'lazyaf.db'), (err) => (failure = err));
  // Stopped at once, as by a server closed right after its start: the worker fails while it is
  // waited for, and that must not make the server's close fail too.
  await checkpointer.stop();
  const err = await eventually('the worker to report its failure', async () => failure, 15_000);
  assert.match(err.message, /directory does not exist|unable to open/i);
});

test('the CLI and the API show the version package.json declares', async (t) => {
  const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal((await run(process.execPath, [CLI, '--version'])).stdout.trim(), version);
  const server = await startTestServer(t);
  assert.equal((await api<{ version: string }>(server, 'GET', '/api/health')).body.version, version);
});
