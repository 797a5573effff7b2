import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { currentOutputs, OUTPUTS_FILE, pruneEarlierOutputs } from '../scripts/earlier-outputs.js';
import { eventually, ROOT, startTestServer, tempDir } from './helpers.js';
import { runJob, seedRepo, startRunnerProcess } from './queue-helpers.js';

/** A tree that builds the runner's bundle as the repository does, from its own copy of the sources. */
function buildTree(root: string): { bundle: () => string[]; dir: string } {
  fs.cpSync(path.join(ROOT, 'src'), path.join(root, 'src'), { recursive: true, filter: (src) => !src.startsWith(path.join(ROOT, 'src', 'web')) });
  fs.cpSync(path.join(ROOT, 'scripts'), path.join(root, 'scripts'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(root, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
  const dir = path.join(root, 'dist', 'bundle');
  return {
    dir,
    bundle: () => {
      const built = spawnSync(process.execPath, ['scripts/bundle-runner.js'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
      assert.equal(built.status, 0, built.stderr);
      return currentOutputs(dir)!;
    },
  };
}

test('a runner started before a build that changed its job chunk still runs its first job: the build leaves the earlier chunk in place', async (t) => {
  const root = tempDir(t);
  const tree = buildTree(root);
  const first = tree.bundle();
  const firstJobChunk = first.find((f) => /^job-.*\.mjs$/.test(f));
  assert.ok(firstJobChunk, first.join(', '));

  const server = await startTestServer(t);
  const repo = await seedRepo(server, tempDir(t), 'rebuilt');
  const runner = startRunnerProcess(t, server, 'rebuilt', root, [], {}, [path.join(tree.dir, 'runner.mjs')]);
  await eventually('the runner to register', () => /registered as rebuilt/.test(runner.output()));

  // A change to the job's code (a pull, an edit) while that runner waits, idle: a new job chunk.
  fs.appendFileSync(path.join(root, 'src', 'runner', 'job.ts'), '\n(globalThis as Record<string, unknown>).lazyafRebuiltMark = 1;\n');
  const second = tree.bundle();
  assert.ok(!second.includes(firstJobChunk), `the job chunk changed: ${second.join(', ')}`);
  assert.ok(fs.existsSync(path.join(tree.dir, firstJobChunk)), 'the earlier job chunk is still there');

  const job = await runJob(server, { repo_id: repo.id, title: 'first job after the build', command: 'echo ran > ran.txt' });
  assert.equal(job.status, 'succeeded', `${job.log}\n${runner.output()}`);
});

test('a build removes what no build has written for a week, keeps what it wrote and the earlier ones, and lists its own', (t) => {
  const dir = tempDir(t);
  const now = Date.now();
  const day = 24 * 3600 * 1000;
  const file = (name: string, ageDays: number) => {
    fs.writeFileSync(path.join(dir, name), name);
    const at = new Date(now - ageDays * day);
    fs.utimesSync(path.join(dir, name), at, at);
  };
  file('runner.mjs', 0);
  file('chunk-SAME.mjs', 30); // written the same by every build, left untouched by esbuild
  file('job-NEW.mjs', 0);
  file('job-YESTERDAY.mjs', 1);
  file('job-OLD.mjs', 8);
  file('job-OLD.mjs.LEGAL.txt', 8);
  fs.mkdirSync(path.join(dir, 'not-a-file'));

  const removed = pruneEarlierOutputs(dir, ['runner.mjs', 'job-NEW.mjs', 'chunk-SAME.mjs'], now);
  assert.deepEqual(removed, ['job-OLD.mjs', 'job-OLD.mjs.LEGAL.txt']);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['chunk-SAME.mjs', 'job-NEW.mjs', 'job-YESTERDAY.mjs', 'not-a-file', OUTPUTS_FILE, 'runner.mjs'].sort());
  assert.deepEqual(currentOutputs(dir), ['chunk-SAME.mjs', 'job-NEW.mjs', 'runner.mjs']);
  // What this build wrote counts as written now: the next build that drops it keeps it a week.
  assert.ok(Math.abs(fs.statSync(path.join(dir, 'chunk-SAME.mjs')).mtimeMs - now) < 1, "its time is the build's");
  assert.deepEqual(pruneEarlierOutputs(dir, ['runner.mjs'], now + 5 * day), []);
  assert.deepEqual(pruneEarlierOutputs(dir, ['runner.mjs'], now + 8 * day), ['chunk-SAME.mjs', 'job-NEW.mjs', 'job-YESTERDAY.mjs']);
  assert.equal(currentOutputs(tempDir(t)), undefined, 'a folder no build has listed');
});
