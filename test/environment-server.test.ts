// A repo's environment on the server: `.lazyaf.yml` read at the job's base commit, checked, the
// repo's override applied and secrets resolved into the assignment; the override's API and CLI.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileEnvironmentAt, parseEnvironment, readEnvironmentFile } from '../src/server/environment.js';
import { MAX_ENVIRONMENT_FILE_BYTES } from '../src/shared/environment.js';
import { api, authUrl, barePath, cli, commitFiles, git, startTestServer, tempDir, type TestServer } from './helpers.js';
import { poll, registerRunner, seedRepo, submit } from './queue-helpers.js';
import { RunnerRoutes, type Assignment } from '../src/shared/protocol.js';
import type { Repo } from '../src/shared/api.js';

const GOOD = `setup: npm ci
cache:
  paths: [node_modules]
  key: [package-lock.json]
checks:
  test: npm test
  lint: npm run lint
env: { NODE_ENV: test }
`;

/** A repo whose main holds `files`, and the work tree it was pushed from (to push more). */
async function repoWith(
  t: Parameters<typeof tempDir>[0],
  server: TestServer,
  files: Record<string, string>,
  name = 'env',
): Promise<{ repo: Repo; src: string }> {
  const src = path.join(tempDir(t), 'src');
  const repo = await seedRepo(server, src, name, { 'README.md': '# env\n', ...files });
  return { repo, src };
}

/** Submits a shell job on the repo and takes it as a runner would: the assignment the runner is handed. */
async function assignmentOf(server: TestServer, repo: Repo, extra: Record<string, unknown> = {}, agents?: string[]): Promise<Assignment> {
  const runner = await registerRunner(server, `r-${Math.random().toString(36).slice(2, 8)}`, [], agents);
  await submit(server, { repo_id: repo.id, title: 'job', command: 'true', ...extra });
  const a = await poll(server, runner.token, 2000);
  assert.ok(a, 'the runner got the job');
  return a;
}

test('a broken .lazyaf.yml is one line naming the file and what is wrong, with no environment', async () => {
  const cases: [string, RegExp][] = [
    ['setup: [npm ci\n', /^\.lazyaf\.yml: invalid YAML at line 2, column 1: /],
    ['setup: npm ci\nfoo: 1\n', /^\.lazyaf\.yml: unknown key "foo" \(known: setup, cache, checks/],
    ['cache:\n  paths: [../outside]\n', /^\.lazyaf\.yml: cache\.paths\[0\] must be a relative path inside the checkout/],
    ['cache:\n  paths: [/etc]\n', /^\.lazyaf\.yml: cache\.paths\[0\] must be a relative path/],
    ['cache:\n  paths: [node_modules]\n  key: [a/../../b]\n', /^\.lazyaf\.yml: cache\.key\[0\] must be a relative path/],
    ['- npm ci\n', /^\.lazyaf\.yml: must be a mapping of keys/],
    ['checks:\n  "bad name": x\n', /^\.lazyaf\.yml: check name "bad name" is not allowed/],
    ['env:\n  lower-case: x\n', /^\.lazyaf\.yml: variable name "lower-case" in env is not allowed/],
    ['env:\n  PORT: 3000\n', /^\.lazyaf\.yml: env\.PORT must be a string/],
    ['setup: 3\n', /^\.lazyaf\.yml: setup must be a command or a list/],
    ['secrets: [npm_token]\n', /^\.lazyaf\.yml: secrets\[0\] must be a secret name/],
    // What would send an agent's key elsewhere, or run code inside the agent or the runner's git.
    ['env:\n  HTTPS_PROXY: http://evil.test\n', /^\.lazyaf\.yml: env\.HTTPS_PROXY is reserved/],
    ['env:\n  ANTHROPIC_BASE_URL: http://evil.test\n', /^\.lazyaf\.yml: env\.ANTHROPIC_BASE_URL is an agent's credential/],
    ['env:\n  NODE_OPTIONS: --require ./x.js\n', /^\.lazyaf\.yml: env\.NODE_OPTIONS is reserved/],
    ['env:\n  GIT_DIR: /tmp\n', /^\.lazyaf\.yml: env\.GIT_DIR would change the runner's git/],
    ['env:\n  LAZYAF_TOKEN: x\n', /^\.lazyaf\.yml: env\.LAZYAF_TOKEN is lazyaf's own/],
    ['job_secrets: [OK_TOKEN, ANTHROPIC_API_KEY]\n', /^\.lazyaf\.yml: job_secrets\[1\] ANTHROPIC_API_KEY is an agent's credential/],
    ['setup: a\nsetup: b\n', /^\.lazyaf\.yml: invalid YAML at line 2, column 1: Map keys must be unique/],
    ['__proto__: { setup: x }\n', /^\.lazyaf\.yml: unknown key "__proto__"/],
    // A billion laughs: each line nine times the last, refused before it is built.
    [
      'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n',
      /^\.lazyaf\.yml: invalid YAML: Excessive alias count/,
    ],
  ];
  for (const [text, re] of cases) {
    const parsed = parseEnvironment(text);
    assert.equal(parsed.environment, undefined, text);
    assert.match(parsed.error!, re, text);
    assert.doesNotMatch(parsed.error!, /\n/, `one line: ${text}`);
  }
  // An empty file declares nothing; a good one is taken as written.
  assert.deepEqual(parseEnvironment('').environment, {});
  assert.deepEqual(parseEnvironment(GOOD).environment, {
    setup: 'npm ci',
    cache: { paths: ['node_modules'], key: ['package-lock.json'] },
    checks: { test: 'npm test', lint: 'npm run lint' },
    env: { NODE_ENV: 'test' },
  });
});

test('the file is read from the commit bounded, and a link or a directory there is refused', async (t) => {
  const server = await startTestServer(t);
  const { repo, src } = await repoWith(t, server, { '.lazyaf.yml': GOOD });
  const bare = barePath(server.dataDir, repo.id);
  const first = await git(['rev-parse', 'HEAD'], src);
  assert.deepEqual(await readEnvironmentFile(bare, first), { kind: 'text', text: GOOD });

  await commitFiles(src, { '.lazyaf.yml': `# ${'x'.repeat(MAX_ENVIRONMENT_FILE_BYTES)}\n` }, 'big');
  const big = await git(['rev-parse', 'HEAD'], src);
  fs.rmSync(path.join(src, '.lazyaf.yml'));
  fs.symlinkSync('/etc/passwd', path.join(src, '.lazyaf.yml'));
  await git(['add', '-A'], src);
  await git(['commit', '-qm', 'link'], src);
  const link = await git(['rev-parse', 'HEAD'], src);
  fs.rmSync(path.join(src, '.lazyaf.yml'));
  fs.mkdirSync(path.join(src, '.lazyaf.yml'));
  fs.writeFileSync(path.join(src, '.lazyaf.yml', 'x'), 'x');
  await git(['add', '-A'], src);
  await git(['commit', '-qm', 'dir'], src);
  const dir = await git(['rev-parse', 'HEAD'], src);
  await git(['push', '-q', authUrl(repo.clone_url, server.token), 'main'], src);

  const tooBig = await readEnvironmentFile(bare, big);
  assert.equal(tooBig.kind, 'error');
  assert.match(tooBig.kind === 'error' ? tooBig.error : '', /^\.lazyaf\.yml: is \d+ bytes, over the limit of 64 KiB$/);
  assert.deepEqual(await readEnvironmentFile(bare, link), { kind: 'error', error: '.lazyaf.yml: is a symbolic link; it must be a file' });
  assert.deepEqual(await readEnvironmentFile(bare, dir), { kind: 'error', error: '.lazyaf.yml: is a directory, not a file' });
  // The first commit still reads as it was: the file is read at the commit asked for.
  assert.deepEqual(await readEnvironmentFile(bare, first), { kind: 'text', text: GOOD });
});

test('what the file is at a commit is remembered; a branch is read again each time, and a commit git cannot find is not remembered', async (t) => {
  const server = await startTestServer(t);
  const { repo, src } = await repoWith(t, server, { '.lazyaf.yml': GOOD });
  const bare = barePath(server.dataDir, repo.id);
  const first = await git(['rev-parse', 'HEAD'], src);
  const read = await fileEnvironmentAt(bare, first);
  assert.equal(read.file?.setup, 'npm ci');
  const missing = 'f'.repeat(40);
  assert.deepEqual(await fileEnvironmentAt(bare, missing), { file: null, error: null, unsure: true });

  await commitFiles(src, { '.lazyaf.yml': 'setup: make\n' }, 'make');
  await git(['push', '-q', authUrl(repo.clone_url, server.token), 'main'], src);
  assert.equal((await fileEnvironmentAt(bare, 'refs/heads/main')).file?.setup, 'make', 'a branch: read again');
  // Its objects gone, the repository still answers for the commit it was asked about before.
  fs.renameSync(path.join(bare, 'objects'), path.join(bare, 'objects-aside'));
  assert.deepEqual(await fileEnvironmentAt(bare, first), read, 'a commit: remembered');
  assert.equal((await fileEnvironmentAt(bare, 'refs/heads/main')).file, null, 'the branch was not');
  fs.renameSync(path.join(bare, 'objects-aside'), path.join(bare, 'objects'));
});

test("a job on a broken file is handed the error line and no environment; the repo's view says the same", async (t) => {
  const server = await startTestServer(t);
  const { repo } = await repoWith(t, server, { '.lazyaf.yml': 'cache:\n  paths: [../../home]\n' });
  const a = await assignmentOf(server, repo);
  assert.equal(a.environment, undefined);
  assert.match(a.environment_error!, /^\.lazyaf\.yml: cache\.paths\[0\] must be a relative path inside the checkout/);
  assert.doesNotMatch(a.environment_error!, /\n/);

  const view = await api(server, 'GET', `/api/repos/${repo.name}/environment`);
  assert.equal(view.status, 200);
  assert.equal(view.body.file, null);
  assert.equal(view.body.file_error, a.environment_error);
  assert.equal(view.body.effective, null);
});

test('a job gets the file at its base commit resolved; the agent is told which checks will run', async (t) => {
  const server = await startTestServer(t);
  const { repo } = await repoWith(t, server, { '.lazyaf.yml': GOOD });
  const a = await assignmentOf(server, repo);
  assert.equal(a.environment_error, undefined);
  assert.deepEqual(a.environment, {
    setup: ['npm ci'],
    cache: { paths: ['node_modules'], key: ['package-lock.json'] },
    checks: [
      { name: 'test', command: 'npm test' },
      { name: 'lint', command: 'npm run lint' },
    ],
    env: { NODE_ENV: 'test' },
    setup_secrets: {},
    job_secrets: {},
    require_checks: false,
    image: null,
    source: 'file',
  });

  const agentJob = await assignmentOf(server, repo, { command: undefined, agent: 'claude' }, ['claude']);
  assert.match(agentJob.prompt, /the repository's checks run on your changes: test \(`npm test`\), lint \(`npm run lint`\)/);
  // No checks, no paragraph.
  const { repo: plain } = await repoWith(t, server, {}, 'plain');
  const plainJob = await assignmentOf(server, plain, { command: undefined, agent: 'claude' }, ['claude']);
  assert.equal(plainJob.environment, undefined);
  assert.equal(plainJob.environment_error, undefined);
  assert.doesNotMatch(plainJob.prompt, /checks/);
});

test("the server's override replaces the file's keys, and clearing it restores the file", async (t) => {
  const server = await startTestServer(t);
  const { repo } = await repoWith(t, server, { '.lazyaf.yml': GOOD });
  const put = await api(server, 'PUT', `/api/repos/${repo.id}/environment`, { checks: { unit: 'npm run unit' }, require_checks: true });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.deepEqual(put.body.server, { checks: { unit: 'npm run unit' }, require_checks: true });
  assert.deepEqual(put.body.effective.checks, { unit: 'npm run unit' }, 'checks replaced whole, not merged');
  assert.equal(put.body.effective.setup, 'npm ci', "the file's other keys stay");
  assert.deepEqual((await api(server, 'GET', `/api/repos/${repo.id}/environment`)).body, put.body);

  const a = await assignmentOf(server, repo);
  assert.equal(a.environment!.source, 'file+server');
  assert.deepEqual(a.environment!.checks, [{ name: 'unit', command: 'npm run unit' }]);
  assert.deepEqual(a.environment!.setup, ['npm ci']);
  assert.equal(a.environment!.require_checks, true, "the repo's default");
  const job = await api(server, 'GET', `/api/jobs/${a.job_id}`);
  assert.equal(job.body.require_checks, true);
  // The submit's word wins over the repo's.
  const b = await assignmentOf(server, repo, { require_checks: false });
  assert.equal(b.environment!.require_checks, false);

  const cleared = await api(server, 'DELETE', `/api/repos/${repo.id}/environment`);
  assert.equal(cleared.status, 200);
  assert.equal(cleared.body.server, null);
  assert.deepEqual(cleared.body.effective, cleared.body.file);
  const c = await assignmentOf(server, repo, { require_checks: true });
  assert.equal(c.environment!.source, 'file');
  assert.equal(c.environment!.checks.length, 2);
  assert.equal(c.environment!.require_checks, true);

  // A repo without a file takes its environment from the server alone.
  const { repo: bare } = await repoWith(t, server, {}, 'bare');
  await api(server, 'PUT', `/api/repos/${bare.id}/environment`, { setup: ['make deps', 'make gen'] });
  // Kept as sent: the validator's coercion would have made a list of one a string.
  assert.deepEqual((await api(server, 'PUT', `/api/repos/${repo.id}/environment`, { setup: ['make'] })).body.server, { setup: ['make'] });
  const d = await assignmentOf(server, bare);
  assert.equal(d.environment!.source, 'server');
  assert.deepEqual(d.environment!.setup, ['make deps', 'make gen']);
});

test('secrets are resolved by name: setup only, or the job too; one not held is an error naming it', async (t) => {
  const server = await startTestServer(t);
  const { repo } = await repoWith(t, server, { '.lazyaf.yml': 'setup: npm ci\nsecrets: [NPM_TOKEN, BOTH]\njob_secrets: [BOTH, API_TOKEN]\n' });
  const missing = await assignmentOf(server, repo);
  assert.equal(missing.environment, undefined);
  assert.match(missing.environment_error!, /^\.lazyaf\.yml: job_secrets names BOTH, which the server does not hold \(lazyaf secrets set BOTH --repo env\)$/);

  const set = async (name: string, value: string, scope = `?repo=${repo.id}`) =>
    assert.ok([200, 201].includes((await api(server, 'PUT', `/api/secrets/${name}${scope}`, { value })).status));
  await set('NPM_TOKEN', 'npm-token-value-123');
  await set('BOTH', 'both-value-12345678');
  // A server-wide one serves every repo.
  await set('API_TOKEN', 'api-token-value-123', '');
  const a = await assignmentOf(server, repo);
  assert.equal(a.environment_error, undefined);
  assert.deepEqual(a.environment!.setup_secrets, { NPM_TOKEN: 'npm-token-value-123' });
  assert.deepEqual(a.environment!.job_secrets, { BOTH: 'both-value-12345678', API_TOKEN: 'api-token-value-123' });
  // The view names them, never values them.
  const view = await api(server, 'GET', `/api/repos/${repo.id}/environment`);
  assert.doesNotMatch(JSON.stringify(view.body), /value-123/);
});

test('the environment API refuses hostile bodies with 4xx and keeps the override as it was', async (t) => {
  const server = await startTestServer(t);
  const { repo } = await repoWith(t, server, {});
  const url = `/api/repos/${repo.id}/environment`;
  assert.equal((await api(server, 'PUT', url, { setup: 'make' })).status, 200);
  const hostile: [unknown, RegExp][] = [
    [{ nope: 1 }, /unknown key "nope"/],
    [{ cache: { paths: ['../x'] } }, /cache\.paths\[0\] must be a relative path/],
    [{ cache: { paths: ['ok'], extra: 1 } }, /unknown key "extra" in cache/],
    [{ env: { A: 1 } }, /env\.A must be a string/],
    [{ env: { 'A=B': 'x' } }, /variable name "A=B"/],
    [{ setup: 'a\u0000b' }, /setup/],
    [{ setup: [] }, /setup must be a command or a list/],
    [{ setup: [['make']] }, /setup must be a command or a list/],
    [{ secrets: 'NPM_TOKEN' }, /secrets must be a list/],
    [{ checks: { ['x'.repeat(70)]: 'y' } }, /check name/],
    [{ secrets: ['lower'] }, /secrets\[0\]/],
    [{ require_checks: 'yes' }, /require_checks must be a boolean/],
    [{ image: 'a b' }, /image must be an image name/],
    [{ env: { LD_PRELOAD: '/tmp/x.so' } }, /env\.LD_PRELOAD is reserved/],
    [[], /must be a mapping/],
    [JSON.stringify('setup: make'), /must be a mapping/],
    [null, /must be a mapping/],
  ];
  for (const [body, re] of hostile) {
    const r = await api(server, 'PUT', url, body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assert.match(r.body.message, re, JSON.stringify(body));
  }
  const proto = await fetch(`${server.url}${url}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: '{"__proto__": {"setup": "x"}}',
  });
  assert.equal(proto.status, 400);
  const huge = await api(server, 'PUT', url, { env: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`V${i}`, 'x'.repeat(4000)])) });
  assert.equal(huge.status, 413);
  const noAuth = await fetch(`${server.url}${url}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(noAuth.status, 401);
  assert.equal((await api(server, 'GET', '/api/repos/nope/environment')).status, 404);
  assert.equal((await api(server, 'PUT', '/api/repos/nope/environment', {})).status, 404);
  assert.equal((await api(server, 'DELETE', '/api/repos/nope/environment')).status, 404);
  assert.deepEqual((await api(server, 'GET', url)).body.server, { setup: 'make' }, 'no refused body changed the override');
});

test('lazyaf repos config: shows, sets from a YAML or JSON file, and clears the override', async (t) => {
  const server = await startTestServer(t);
  const { repo } = await repoWith(t, server, { '.lazyaf.yml': GOOD }, 'cfg');
  const dir = tempDir(t);

  const shown = await cli(['repos', 'config', 'cfg'], { server });
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /From \.lazyaf\.yml \(default branch\):\n {2}setup: npm ci\n/);
  assert.match(shown.stdout, /From the server .*:\n {2}\(none\)\n/);
  assert.match(shown.stdout, /Effective .*:\n {2}setup: npm ci\n/);

  const yml = path.join(dir, 'override.yml');
  fs.writeFileSync(yml, 'checks:\n  unit: npm run unit\nsecrets: [NPM_TOKEN]\n');
  const set = await cli(['repos', 'config', 'cfg', '--set', yml], { server });
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /From the server .*:\n {2}checks:\n {4}unit: npm run unit\n {2}secrets:\n {4}- NPM_TOKEN\n/);
  const json = await cli(['repos', 'config', repo.id, '--json'], { server });
  assert.deepEqual(JSON.parse(json.stdout).server, { checks: { unit: 'npm run unit' }, secrets: ['NPM_TOKEN'] });
  assert.deepEqual(JSON.parse(json.stdout).effective.checks, { unit: 'npm run unit' });

  const jsonFile = path.join(dir, 'override.json');
  fs.writeFileSync(jsonFile, JSON.stringify({ setup: ['make'] }));
  assert.equal((await cli(['repos', 'config', 'cfg', '--set', jsonFile], { server })).code, 0);
  assert.deepEqual((await api(server, 'GET', `/api/repos/${repo.id}/environment`)).body.server, { setup: ['make'] });

  const bad = path.join(dir, 'bad.yml');
  fs.writeFileSync(bad, 'cache:\n  paths: [../up]\n');
  const refused = await cli(['repos', 'config', 'cfg', '--set', bad], { server });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /cache\.paths\[0\] must be a relative path/);
  assert.equal((await cli(['repos', 'config', 'cfg', '--set', path.join(dir, 'absent.yml')], { server })).code, 1);

  const cleared = await cli(['repos', 'config', 'cfg', '--clear'], { server });
  assert.equal(cleared.code, 0, cleared.stderr);
  assert.match(cleared.stdout, /From the server .*:\n {2}\(none\)\n/);
  assert.equal((await api(server, 'GET', `/api/repos/${repo.id}/environment`)).body.server, null);
});

test("require_checks: the submit's is kept by a rerun; unsaid, the view leaves it to the repo until an attempt is told", async (t) => {
  const server = await startTestServer(t);
  const { repo } = await repoWith(t, server, { '.lazyaf.yml': 'checks:\n  test: "true"\nrequire_checks: true\n' });
  const a = await assignmentOf(server, repo, { require_checks: false });
  assert.equal(a.environment!.require_checks, false);
  const done = await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'succeeded', exit_code: 0, commit: null }, { token: a.job_token });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  const rerun = await api(server, 'POST', `/api/jobs/${a.job_id}/rerun`);
  assert.equal(rerun.status, 201, JSON.stringify(rerun.body));
  assert.equal(rerun.body.require_checks, false, 'kept from the submit');

  const queued = await submit(server, { repo_id: repo.id, title: 'unsaid', command: 'true' });
  assert.equal(queued.require_checks, undefined, 'the repo decides once the job is assigned');
});
