import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli, startTestServer } from './helpers.js';
import { registerRunner } from './queue-helpers.js';

test('lazyaf runners lists shell and then the agents of every runner, as the web UI does', async (t) => {
  const server = await startTestServer(t);
  await registerRunner(server, 'plain');
  await registerRunner(server, 'agents', ['gpu'], ['claude', 'codex']);
  const r = await cli(['runners'], { server });
  assert.equal(r.code, 0, r.stderr);
  // NAME STATUS JOB SANDBOX AGENTS LABELS
  assert.match(r.stdout, /^plain\s+\S+\s+-\s+\S+\s+shell\s+-\s/m);
  assert.match(r.stdout, /^agents\s+\S+\s+-\s+\S+\s+shell,claude,codex\s+gpu\s/m);
});
