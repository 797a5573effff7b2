// Which agents a runner in its image offers: those the job user (not the runner, root) can reach
// and run, following every link; and for the others, why.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { searchAgents } from '../src/runner/agents.js';
import { JobUserWall } from '../src/runner/job-user.js';
import { tempDir } from './helpers.js';

// An id no file here belongs to: only the "other" permission bits apply to it, whoever runs the tests.
const USER = { name: 'jobber', uid: 54321, gid: 54321, home: '/nonexistent' };

function executable(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\n');
  fs.chmodSync(file, 0o755);
}

test('the job user runs an agent only where it can enter every folder on the way, links followed; each one left out says where it stops', (t) => {
  const root = tempDir(t);
  fs.chmodSync(root, 0o755);
  const wall = new JobUserWall(USER, path.join(root, 'work'));
  const bin = path.join(root, 'bin');
  fs.mkdirSync(bin, { mode: 0o755 });
  fs.chmodSync(bin, 0o755);
  // claude: a link on PATH into a prefix the job user may enter (npm install --prefix, linked by hand).
  executable(path.join(root, 'opt', 'claude', 'node_modules', '@anthropic-ai', 'claude-code', 'bin', 'claude.exe'));
  fs.mkdirSync(path.join(root, 'opt', 'claude', 'node_modules', '.bin'));
  fs.symlinkSync('../@anthropic-ai/claude-code/bin/claude.exe', path.join(root, 'opt', 'claude', 'node_modules', '.bin', 'claude'));
  fs.symlinkSync(path.join(root, 'opt', 'claude', 'node_modules', '.bin', 'claude'), path.join(bin, 'claude'));
  // gemini: a link on PATH into a folder closed to others (root's home, where root installed it).
  const closed = path.join(root, 'private');
  executable(path.join(closed, 'gemini', 'gemini.js'));
  fs.chmodSync(closed, 0o700);
  fs.symlinkSync(path.join(closed, 'gemini', 'gemini.js'), path.join(bin, 'gemini'));
  // codex: on PATH in a folder closed to others.
  executable(path.join(closed, 'bin', 'codex'));
  // aider: a file the job user may not execute.
  executable(path.join(root, 'bin2', 'aider'));
  fs.chmodSync(path.join(root, 'bin2', 'aider'), 0o744);

  const search = searchAgents(wall, [bin, path.join(closed, 'bin'), path.join(root, 'bin2')].join(':'));
  assert.deepEqual(search.found, ['claude']);
  assert.deepEqual(search.skipped, [
    { name: 'gemini', reason: `on PATH (${bin}/gemini) but not runnable in the job's wall: jobber (uid 54321) cannot enter ${closed}` },
    { name: 'codex', reason: `on PATH (${closed}/bin/codex) but not runnable in the job's wall: jobber (uid 54321) cannot enter ${closed}` },
    { name: 'aider', reason: `on PATH (${root}/bin2/aider) but not runnable in the job's wall: jobber (uid 54321) may not execute ${root}/bin2/aider` },
  ]);
});
