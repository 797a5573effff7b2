import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { agentCredentials, shortCredentialWarnings } from '../src/server/agent-credentials.js';
import type { SecretList } from '../src/shared/api.js';
import { api, cli, eventually, startTestServer, tempDir } from './helpers.js';
import { seedRepo } from './queue-helpers.js';

// Secrets go in through `lazyaf secrets set` (stdin) and never come out: not in the API, the CLI
// or the server's log. Real server process, real CLI, the SQLite file read afterwards.

const VALUE = 'sk-ant-api03-secret-value-for-the-secrets-test';

test('a secret set through the CLI is listed by name only, never in the API or the server log', async (t) => {
  const dataDir = tempDir(t, 'lazyaf-data-');
  const server = await startTestServer(t, {}, { dataDir, logLevel: 'debug' });

  const set = await cli(['secrets', 'set', 'ANTHROPIC_API_KEY'], { server, input: `${VALUE}\n` });
  assert.equal(set.code, 0, set.stderr);
  assert.equal(set.stdout, 'Stored ANTHROPIC_API_KEY for all repos\n');
  assert.ok(!set.stdout.includes(VALUE) && !set.stderr.includes(VALUE));
  // Replaced, not doubled: one name, one value.
  assert.equal((await cli(['secrets', 'set', 'ANTHROPIC_API_KEY'], { server, input: VALUE })).code, 0);

  const listed = await cli(['secrets', 'list'], { server });
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^NAME +FOR +UPDATED\nANTHROPIC_API_KEY +all repos +\d{4}-/);
  assert.ok(!listed.stdout.includes(VALUE));
  const json = await cli(['secrets', 'list', '--json'], { server });
  assert.ok(!json.stdout.includes(VALUE));

  const viaApi = await api<SecretList>(server, 'GET', '/api/secrets');
  assert.equal(viaApi.status, 200);
  assert.deepEqual(
    viaApi.body.secrets.map((s) => [s.name, s.repo_id]),
    [['ANTHROPIC_API_KEY', null]],
  );
  assert.ok(!JSON.stringify(viaApi.body).includes(VALUE));
  assert.ok(!(await api(server, 'GET', '/docs/json')).body.toString().includes(VALUE));

  // The pipe's trailing newline is not part of the value.
  const db = new Database(path.join(dataDir, 'lazyaf.db'), { readonly: true });
  t.after(() => db.close());
  assert.deepEqual(db.prepare('SELECT name, value FROM secrets').all(), [{ name: 'ANTHROPIC_API_KEY', value: VALUE }]);

  const deleted = await cli(['secrets', 'delete', 'ANTHROPIC_API_KEY'], { server });
  assert.equal(deleted.code, 0, deleted.stderr);
  const again = await cli(['secrets', 'delete', 'ANTHROPIC_API_KEY'], { server });
  assert.equal(again.code, 1);
  assert.equal(again.stderr, 'lazyaf: secret not found: ANTHROPIC_API_KEY\n');
  assert.equal((await cli(['secrets', 'list'], { server })).stdout, 'No secrets stored. Store one with: lazyaf secrets set NAME < file\n');

  // The server logged every request at debug level, and never the value.
  await eventually('the server logged the requests', () => server.output().includes('/api/secrets'));
  assert.ok(!server.output().includes(VALUE), server.output());
});

test('secrets: a repo scope, and every bad input is a clear 4xx', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const put = (name: string, body: unknown, query = '') => api(server, 'PUT', `/api/secrets/${name}${query}`, body);

  assert.equal((await put('OPENAI_API_KEY', { value: 'global-openai-key' })).status, 201);
  const scoped = await put('OPENAI_API_KEY', { value: 'repo-openai-key' }, `?repo=${repo.name}`);
  assert.equal(scoped.status, 201);
  assert.deepEqual([scoped.body.repo_id, scoped.body.repo_name], [repo.id, repo.name]);
  assert.equal((await put('OPENAI_API_KEY', { value: 'repo-openai-key-2' }, `?repo=${repo.id}`)).status, 200);
  assert.deepEqual(server.ctx.secrets.valuesFor(repo.id), { OPENAI_API_KEY: 'repo-openai-key-2' });
  assert.deepEqual(server.ctx.secrets.valuesFor('other'), { OPENAI_API_KEY: 'global-openai-key' });
  const listed = await cli(['secrets', 'list'], { server });
  assert.match(listed.stdout, new RegExp(`OPENAI_API_KEY +all repos .*\\nOPENAI_API_KEY +repo ${repo.name} `));

  for (const [name, body, query, status] of [
    ['lower_case', { value: 'x'.repeat(10) }, '', 400],
    ['1STARTS_WITH_DIGIT', { value: 'x'.repeat(10) }, '', 400],
    // Fastify's own bound on a path parameter (100 characters) comes first.
    ['A'.repeat(129), { value: 'x'.repeat(10) }, '', 414],
    ['EMPTY', { value: '' }, '', 400],
    ['TOO_LONG', { value: 'x'.repeat(64 * 1024 + 1) }, '', 400],
    ['NUL', { value: 'abc\u0000defghij' }, '', 400],
    ['EXTRA', { value: 'abcdefghij', other: 1 }, '', 400],
    ['NO_REPO', { value: 'abcdefghij' }, '?repo=nope', 404],
  ] as const) {
    const r = await put(name, body, query);
    assert.equal(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
    assert.ok(!JSON.stringify(r.body).includes('abcdefghij'), JSON.stringify(r.body));
  }
  assert.equal((await put('LONGEST_OK', { value: 'x'.repeat(64 * 1024) })).status, 201);
  assert.equal((await api(server, 'GET', '/api/secrets', undefined, { token: null })).status, 401);
  assert.equal((await api(server, 'PUT', '/api/secrets/X_KEY', { value: 'abcdefghij' }, { token: server.registrationToken })).status, 401);
  assert.equal((await api(server, 'DELETE', `/api/secrets/OPENAI_API_KEY?repo=${repo.name}`)).status, 204);
  assert.equal(server.ctx.secrets.valuesFor(repo.id).OPENAI_API_KEY, 'global-openai-key');

  const bad = await cli(['secrets', 'set', 'lower'], { server, input: 'abcdefghij' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^lazyaf: invalid secret name: lower \(/);
  const empty = await cli(['secrets', 'set', 'EMPTY_ONE'], { server, input: '\n' });
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /^lazyaf: empty value: nothing stored/);
});

test('a key shorter than 8 characters is refused, by the CLI and the API: no log could hide it; a short setting is stored', async (t) => {
  const server = await startTestServer(t);
  const short = await cli(['secrets', 'set', 'ANTHROPIC_API_KEY'], { server, input: 'sk-1234\n' });
  assert.equal(short.code, 1);
  assert.equal(
    short.stderr,
    'lazyaf: the value of ANTHROPIC_API_KEY is too short for a secret (7 characters, at least 8): a log could not hide it; nothing stored\n',
  );
  for (const name of ['OPENAI_API_KEY', 'AWS_SESSION_TOKEN', 'MY_SECRET', 'PROXY_PASSWORD']) {
    const r = await api(server, 'PUT', `/api/secrets/${name}`, { value: 'short' });
    assert.equal(r.status, 400, name);
    assert.match(r.body.message, new RegExp(`^invalid value: the value of ${name} is too short for a secret \\(5 characters, at least 8\\)`));
  }
  assert.deepEqual(server.ctx.secrets.list(), []);
  // Settings hide nothing: a switch or a region may be short.
  for (const [name, value] of [
    ['CLAUDE_CODE_USE_BEDROCK', '1'],
    ['AWS_REGION', 'eu-1'],
    ['KEYBOARD', 'x'],
  ])
    assert.equal((await api(server, 'PUT', `/api/secrets/${name}`, { value })).status, 201, name);
  assert.equal((await api(server, 'PUT', '/api/secrets/OPENAI_API_KEY', { value: 'sk-12345' })).status, 201);
});

test('the server warns at its start of an agent key in its environment too short to hide: named, never shown', () => {
  const env = { ANTHROPIC_API_KEY: 'abc', OPENAI_API_KEY: 'long-enough-key', CLAUDE_CODE_USE_BEDROCK: '1', MY_TOKEN: 'x' };
  assert.deepEqual(shortCredentialWarnings(env), [
    "ANTHROPIC_API_KEY in the server's environment has 3 characters: too short for a key, and never hidden from job logs",
  ]);
});

test("agentCredentials: a stored value wins over the server's environment; only the names asked for, and the common settings", () => {
  const env = { ANTHROPIC_API_KEY: 'from-env', ANTHROPIC_BASE_URL: 'http://env', OPENAI_API_KEY: 'not-asked', HTTPS_PROXY: 'http://proxy' };
  assert.deepEqual(agentCredentials(['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL'], env, { ANTHROPIC_API_KEY: 'stored', GEMINI_API_KEY: 'not-asked' }), {
    ANTHROPIC_API_KEY: 'stored',
    ANTHROPIC_BASE_URL: 'http://env',
    HTTPS_PROXY: 'http://proxy',
  });
});
