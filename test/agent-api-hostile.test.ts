// The agent jobs' API at the edges of what its schemas take: usage a runner reports (the server's
// sums over attempts must still answer: SQLite's SUM of integers raises on overflow), and secret
// values that are not JSON strings (the validator would turn them into other strings).
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { SecretList, UsageReport } from '../src/shared/api.js';
import { RunnerRoutes } from '../src/shared/protocol.js';
import type { Usage } from '../src/shared/transcript.js';
import { api, startTestServer, tempDir } from './helpers.js';
import { poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

test('GET /api/usage answers when the attempts reported counts whose sum passes 2^63 or a cost whose sum passes 1e308', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r1', [], ['claude']);
  const huge: Usage[] = [
    { input_tokens: 5e18, output_tokens: 5e18, cache_read_tokens: 5e18, cost_usd: 1e308 },
    { input_tokens: 5e18, output_tokens: 5e18, cache_read_tokens: 5e18, cost_usd: 1e308 },
    { input_tokens: 1e308, output_tokens: 0, cost_usd: 1.5 },
  ];
  for (const usage of huge) {
    await submit(server, { repo_id: repo.id, title: 'agent work', agent: 'claude' });
    const a = await poll(server, runner.token);
    assert.ok(a);
    const done = await api(
      server,
      'POST',
      RunnerRoutes.complete(a.attempt_id),
      { outcome: 'succeeded', exit_code: 0, commit: null, usage },
      { token: a.job_token },
    );
    assert.equal(done.status, 200, JSON.stringify(done.body));
  }
  for (const q of ['', '?repo=demo', '?since=2000-01-01']) {
    const r = await api<UsageReport>(server, 'GET', `/api/usage${q}`);
    assert.equal(r.status, 200, `${q}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.total.jobs, 3);
    for (const [k, v] of Object.entries(r.body.total)) assert.ok(typeof v === 'number' && Number.isFinite(v) && v >= 0, `${q}: total ${k} is ${v}`);
    assert.ok(r.body.total.input_tokens >= 1e19, 'a sum past 2^63 is still a sum, not a wrapped or clamped count');
  }
});

test('a secret value that is not a JSON string is refused, not stored as the text the validator makes of it', async (t) => {
  const server = await startTestServer(t);
  for (const value of [2 ** 64 + 1, 1e3, true, ['sk-in-an-array'], null]) {
    const r = await api(server, 'PUT', '/api/secrets/ANTHROPIC_API_KEY', { value });
    assert.equal(r.status, 400, `${JSON.stringify(value)}: ${JSON.stringify(r.body)}`);
  }
  assert.deepEqual((await api<SecretList>(server, 'GET', '/api/secrets')).body.secrets, [], 'nothing stored');
  assert.equal((await api(server, 'PUT', '/api/secrets/ANTHROPIC_API_KEY', { value: '12345678901234567890' })).status, 201);
});
