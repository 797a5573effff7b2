import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { RunnerList } from '../src/shared/api.js';
import { currentOutputs } from '../scripts/earlier-outputs.js';
import { poolWorkRoot } from '../src/server/pool/launcher.js';
import { api, eventually, ROOT, startTestServer, tempDir } from './helpers.js';
import { processesMatching } from './queue-helpers.js';

/**
 * M1's target is 40 MiB; a bare node is already 39 on Linux x64 and the bundled runner idles at
 * about 54 (ARCHITECTURE.md, "A lean runner"). The bound leaves room above that and still catches
 * a return of what was cut (the whole CLI: 93, fetch: +12); the test below holds the smaller cuts.
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

/** The files the bundle's entry loads at start: itself and the chunks it imports statically, and theirs. */
function startFiles(dir: string, file: string, seen = new Set<string>()): Set<string> {
  seen.add(file);
  const source = fs.readFileSync(path.join(dir, file), 'utf8');
  // Static imports only: `import(...)` of a chunk happens when a job comes.
  for (const m of source.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*"\.\/([^"]+)";/gms)) if (!seen.has(m[1]!)) startFiles(dir, m[1]!, seen);
  return seen;
}

test("the bundled runner's start loads neither typebox's schema builder nor the job machinery: they come with the first job", () => {
  bundleFresh();
  const dir = path.join(ROOT, 'dist', 'bundle');
  const files = startFiles(dir, 'runner.mjs');
  const source = [...files].map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
  // esbuild names each bundled module in a comment.
  assert.match(source, /^\/\/ src\/runner\/client\.ts$/m, 'the comments name the modules');
  for (const absent of [
    'node_modules/typebox/build/type/',
    'node_modules/typebox/build/value/',
    'src/shared/protocol.ts',
    'src/runner/job.ts',
    'node_modules/tar-stream/',
  ])
    assert.ok(!source.includes(`// ${absent}`), `${absent} is loaded at start (${[...files].join(', ')})`);
  const all = currentOutputs(dir)!.filter((f) => f.endsWith('.mjs'));
  const later = all.filter((f) => !files.has(f)).map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
  assert.ok(
    later.some((s) => s.includes('// src/runner/job.ts')),
    `job.ts is in a chunk loaded later (${all.join(', ')})`,
  );
});
