import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { Value } from 'typebox/value';
import { answerChecksModule } from '../scripts/answer-checks.js';
import { ANSWER_SCHEMAS, type AnswerChecks } from '../src/runner/answer-checks.js';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { api, startTestServer, tempDir } from './helpers.js';
import { poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

type Name = keyof typeof ANSWER_SCHEMAS;

/** The checks the runner's bundle carries in place of typebox (scripts/answer-checks.js), loaded as the bundle would. */
async function generatedChecks(): Promise<AnswerChecks> {
  const source = await answerChecksModule();
  // The module imports typebox's helpers by name: resolved from here, as esbuild does from the root.
  const resolved = source
    .replace('"typebox/system"', JSON.stringify(import.meta.resolve('typebox/system')))
    .replace('"typebox/guard"', JSON.stringify(import.meta.resolve('typebox/guard')));
  const mod = (await import(`data:text/javascript;base64,${Buffer.from(resolved).toString('base64')}`)) as { answerChecks: AnswerChecks };
  return mod.answerChecks;
}

/** The value with one change at `at` (a path of keys): each change a way a hostile or broken server could answer. */
function* variants(value: unknown, at: string[] = []): Generator<{ what: string; value: unknown }> {
  if (value === null || typeof value !== 'object') return;
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  for (const [key, inner] of entries) {
    const where = [...at, key].join('.');
    const replaced = (by: unknown) => (Array.isArray(value) ? value.map((v, i) => (String(i) === key ? by : v)) : { ...value, [key]: by });
    const without = () => (Array.isArray(value) ? value.filter((_, i) => String(i) !== key) : Object.fromEntries(entries.filter(([k]) => k !== key)));
    yield { what: `${where} left out`, value: without() };
    for (const odd of [null, 7, 1.5, -1, 'text', '', 'é\u0000', true, [], {}, 'x'.repeat(70_000)])
      yield { what: `${where} = ${JSON.stringify(odd).slice(0, 20)}`, value: replaced(odd) };
    for (const inside of variants(inner, [...at, key])) yield { what: inside.what, value: replaced(inside.value) };
  }
  if (!Array.isArray(value)) yield { what: `${at.join('.') || 'the answer'} with an unknown key`, value: { ...value, unknown_key: 1 } };
}

test("the bundle's generated answer checks agree with typebox's on the server's real answers and on every one-field change of them", async (t) => {
  const checks = await generatedChecks();
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const registered = await registerRunner(server, 'checked', [], ['claude']);
  const heartbeat = (await api(server, 'POST', RunnerRoutes.heartbeat, { attempts: [], status: 'idle' }, { token: registered.token })).body;
  await submit(server, { repo_id: repo.id, title: 'a shell job', command: 'true' });
  const shell = await poll(server, registered.token);
  assert.ok(shell);
  const logAck = (await api(server, 'POST', RunnerRoutes.logs(shell.attempt_id), { seq: 1, data: 'hello\n' }, { token: shell.job_token })).body;
  const complete = (await api(server, 'POST', RunnerRoutes.complete(shell.attempt_id), { outcome: 'failed', exit_code: 1 }, { token: shell.job_token })).body;
  await submit(server, { repo_id: repo.id, title: 'an agent job', description: 'Do it.', agent: 'claude', model: 'claude-haiku-4-5' });
  const agent = await poll(server, registered.token);
  assert.ok(agent?.agent_run, 'an agent assignment');

  const answers: [Name, unknown][] = [
    ['register', registered],
    ['heartbeat', heartbeat],
    ['assignment', shell],
    ['assignment', agent],
    ['logAck', logAck],
    ['complete', complete],
  ];
  let compared = 0;
  for (const [name, answer] of answers) {
    assert.equal(checks[name](answer), true, `${name}: the server's own answer passes`);
    for (const { what, value } of [{ what: 'as is', value: answer }, ...variants(answer)]) {
      assert.equal(checks[name](value), Value.Check(ANSWER_SCHEMAS[name], value), `${name}, ${what}`);
      compared++;
    }
    for (const odd of [null, undefined, 0, 'text', [], {}]) assert.equal(checks[name](odd), false, `${name}: ${JSON.stringify(odd)}`);
  }
  assert.ok(compared > 500, `${compared} answers compared`);
});
