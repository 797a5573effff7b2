import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { RunnerList } from '../src/shared/api.js';
import { poolWorkRoot } from '../src/server/pool/launcher.js';
import { api, eventually, ROOT, startTestServer, tempDir } from './helpers.js';
import { processesMatching } from './queue-helpers.js';

/**
 * M1's target is 40 MiB; a bare node is already 39 on Linux x64 and the bundled runner idles at
 * about 62 (ARCHITECTURE.md, "A lean runner"). The bound leaves room above that and still catches
 * a return of what was cut (the whole CLI: 93, fetch: +12).
 */
const BOUND_MIB = 70;

/** The pool runs the bundle only when it is as new as the build (launcher.ts): `npm test` builds both, a `tsc` alone does not. */
function bundleFresh(): void {
  const bundle = fs.statSync(path.join(ROOT, 'dist', 'bundle', 'runner.mjs'), { throwIfNoEntry: false });
  const entry = fs.statSync(path.join(ROOT, 'dist', 'cli', 'runner-main.js'));
  if (bundle && bundle.mtimeMs >= entry.mtimeMs) return;
  const built = spawnSync(process.execPath, ['scripts/bundle-runner.js'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(built.status, 0, built.stderr);
}

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

test('an idle pool runner is the bundled runner, with a small young generation, and stays under a memory bound', async (t) => {
  bundleFresh();
  const data = path.join(tempDir(t), 'data');
  const server = await startTestServer(t, {}, { dataDir: data, runners: 1 });
  await eventually('the pool runner to register and idle', async () =>
    (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.some((r) => r.status === 'idle'),
  );
  const [pid, ...more] = processesMatching(poolWorkRoot(data));
  assert.ok(pid !== undefined && more.length === 0, 'one runner process');
  const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  assert.ok(argv.includes('--max-semi-space-size=1'), argv.join(' '));
  assert.ok(argv.includes(path.join(ROOT, 'dist', 'bundle', 'runner.mjs')), argv.join(' '));
  // Idle for a while: its heartbeats and a long-poll have gone out; the smallest of a few readings, so one scavenge in flight does not count.
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 600));
    readings.push(rssMiB(pid));
  }
  const rss = Math.min(...readings);
  assert.ok(rss <= BOUND_MIB, `idle pool runner at ${rss.toFixed(1)} MiB (readings ${readings.map((r) => r.toFixed(1)).join(', ')}), bound ${BOUND_MIB} MiB`);
});
