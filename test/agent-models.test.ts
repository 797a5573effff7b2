// LAZYAF_AGENT_MODELS: the model each built-in agent runs when a job names none. A bad value
// stops the server at start, in one line naming it; a good one reaches the job's assignment.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { parseAgentModels } from '../src/server/agent-models.js';
import { ConfigError, resolveServerConfig } from '../src/server/config.js';
import { cli, startTestServer, tempDir } from './helpers.js';
import { poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

test('LAZYAF_AGENT_MODELS is agent=model pairs of built-in agents; anything else is one line naming it', () => {
  assert.deepEqual(parseAgentModels(undefined), {});
  assert.deepEqual(parseAgentModels(' claude=claude-sonnet-4-5 , codex=gpt-5.5,'), { claude: 'claude-sonnet-4-5', codex: 'gpt-5.5' });
  assert.deepEqual(resolveServerConfig({}, { LAZYAF_AGENT_MODELS: 'gemini=gemini-2.5-pro' }).agentModels, { gemini: 'gemini-2.5-pro' });
  for (const [bad, why] of [
    ['claude', /"" is not a model name \(for claude/],
    ['claude=', /is not a model name/],
    ['claude=--help', /"--help" is not a model name/],
    ['claude=a b', /is not a model name/],
    ['shell=x', /"shell" is not a built-in agent/],
    ['aider=x', /"aider" is not a built-in agent/],
    ['claude=a,claude=b', /claude is named twice/],
    ['codex=gpt;rm -rf /', /is not a model name/],
  ] as const) {
    assert.throws(
      () => resolveServerConfig({}, { LAZYAF_AGENT_MODELS: bad }),
      (err: Error) => err instanceof ConfigError && why.test(err.message) && !err.message.includes('\n'),
      bad,
    );
  }
});

test('a bad LAZYAF_AGENT_MODELS stops lazyaf server at start with its message', async (t) => {
  const r = await cli(['server', '--port', '0', '--data', path.join(tempDir(t), 'data')], { env: { LAZYAF_AGENT_MODELS: 'codex=gpt 5' } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /LAZYAF_AGENT_MODELS: "gpt 5" is not a model name \(for codex/);
});

test("a job that names no model gets its agent's default; one that names a model keeps it", async (t) => {
  const server = await startTestServer(t, { LAZYAF_AGENT_MODELS: 'claude=claude-sonnet-4-5' });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const runner = await registerRunner(server, 'r1', [], ['claude', 'codex']);
  for (const [agent, model, expected] of [
    ['claude', undefined, 'claude-sonnet-4-5'],
    ['claude', 'claude-opus-4-1', 'claude-opus-4-1'],
    ['codex', undefined, null],
  ] as const) {
    const job = await submit(server, { repo_id: repo.id, title: 'work', agent, ...(model ? { model } : {}) });
    assert.equal(job.model, model ?? null, 'the job keeps what was asked');
    const a = await poll(server, runner.token);
    assert.equal(a?.agent_run?.model, expected, `${agent} ${model}`);
    assert.match(a.command, expected ? new RegExp(`--model ${expected}`) : /^(?!.*--model)/, 'the command shown names it');
  }
});
