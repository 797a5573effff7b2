import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { CLI, run, tempDir } from './helpers.js';

test('an unreachable Docker engine stops the server with one line that says where it looked', async (t) => {
  const data = path.join(tempDir(t), 'data');
  const r = await run(process.execPath, [CLI, 'server', '--launcher', 'docker', '--port', '0', '--data', data], {
    env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent.sock' },
  });
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^lazyaf: cannot reach the Docker engine at unix:\/\/\/nonexistent\.sock \(DOCKER_HOST\)/);
});
