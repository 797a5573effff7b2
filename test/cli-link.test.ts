import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { BranchList, Job, Repo } from '../src/shared/api.js';
import { api, assertCliFailure, cli, commitFiles, git, makeRepo, makeRepoWithOrigin, startTestServer, tempDir, type TestServer } from './helpers.js';

const repoNamed = async (server: TestServer, name: string): Promise<Repo> => (await api<Repo>(server, 'GET', `/api/repos/${name}`)).body;
const mainOf = async (server: TestServer, name: string): Promise<string | undefined> =>
  (await api<BranchList>(server, 'GET', `/api/repos/${name}/branches`)).body.branches.find((b) => b.name === 'main')?.commit;

test('jobs submit without --repo takes the repo of the checkout it runs in, and says what to do outside one', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'one\n' });
  assert.equal((await cli(['ingest', src, '--name', 'here'], { server })).code, 0);
  assert.equal((await cli(['ingest', await makeRepo(path.join(dir, 'elsewhere'), { 'b.txt': 'b\n' })], { server })).code, 0);
  fs.mkdirSync(path.join(src, 'sub'));

  for (const cwd of [src, path.join(src, 'sub')]) {
    const r = await cli(['jobs', 'submit', '--title', 'from the checkout', '--command', 'true', '--labels', 'nobody-has-this'], { server, cwd });
    assert.equal(r.code, 0, r.stderr);
    const job = (await api<Job>(server, 'GET', `/api/jobs/${r.stdout.trim()}`)).body;
    assert.equal(job.repo_id, (await repoNamed(server, 'here')).id, `submitted from ${cwd}`);
  }
  // --repo still wins over the checkout's link.
  const named = await cli(['jobs', 'submit', '--repo', 'elsewhere', '--title', 't', '--command', 'true', '--labels', 'nobody-has-this', '--json'], {
    server,
    cwd: src,
  });
  assert.equal(named.code, 0, named.stderr);
  assert.equal((JSON.parse(named.stdout) as Job).repo_id, (await repoNamed(server, 'elsewhere')).id);

  const plain = path.join(dir, 'plain');
  fs.mkdirSync(plain);
  const unlinked = await makeRepo(path.join(dir, 'unlinked'), { 'a.txt': 'a\n' });
  const submit = ['jobs', 'submit', '--title', 't', '--command', 'true'];
  assertCliFailure(
    await cli(submit, { server, cwd: plain }),
    /^lazyaf: pass --repo REPO, or run inside a checkout linked to a lazyaf repo \(.*\/plain is not in a git checkout; to link one: lazyaf ingest PATH --name NAME \(a new repo\), or lazyaf link REPO \(a repo already on lazyaf\)\)$/,
    'a submit outside a checkout',
  );
  assertCliFailure(
    await cli(submit, { server, cwd: unlinked }),
    /^lazyaf: pass --repo REPO, or run inside a checkout linked to a lazyaf repo \(.*\/unlinked has no "lazyaf" remote; to link one: .*lazyaf link REPO/,
    'a submit in a checkout with no lazyaf remote',
  );
});

test("lazyaf link lets a teammate's clone push and submit to the repo already on lazyaf, and pushes nothing itself", async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const { src, origin } = await makeRepoWithOrigin(dir, { 'a.txt': 'one\n' });
  assert.equal((await cli(['ingest', src, '--name', 'shared'], { server })).code, 0);
  const shared = await repoNamed(server, 'shared');
  const ingested = await mainOf(server, 'shared');

  // A teammate clones the project's own remote, then tries ingest: the name is taken, and the line says how to join it.
  const mate = path.join(dir, 'mate');
  await git(['clone', '-q', origin, mate]);
  assertCliFailure(
    await cli(['ingest', mate, '--name', 'shared'], { server, cwd: dir }),
    /^lazyaf: a repo named "shared" already exists; to link this checkout to it: lazyaf link shared \/\S+\/mate$/,
    'an ingest of a taken name, from elsewhere',
  );
  assertCliFailure(
    await cli(['ingest', '.', '--name', 'shared'], { server, cwd: mate }),
    /^lazyaf: a repo named "shared" already exists; to link this checkout to it: lazyaf link shared$/,
    'an ingest of a taken name, from the checkout',
  );
  assert.deepEqual((await git(['remote'], mate)).split('\n'), ['origin'], 'a refused ingest leaves no remote');

  const tip = await commitFiles(mate, { 'b.txt': 'mine\n' }, 'teammate work');
  const link = await cli(['link', 'shared'], { server, cwd: mate });
  assert.equal(link.code, 0, link.stderr);
  assert.match(link.stdout, /^Linked \S+\/mate to lazyaf repo "shared" \(/);
  assert.equal(await git(['remote', 'get-url', 'lazyaf'], mate), shared.clone_url);
  const config = fs.readFileSync(path.join(mate, '.git', 'config'), 'utf8');
  assert.match(config, /helper = .* credential/, 'the CLI is the credential helper, as ingest makes it');
  assert.ok(!config.includes(server.token), 'no token in the repo config');
  assert.equal(await mainOf(server, 'shared'), ingested, 'link pushes nothing');

  // The linked clone works as an ingested one: push (through the credential helper), submit without --repo.
  const push = await cli(['push'], { server, cwd: mate });
  assert.equal(push.code, 0, push.stderr);
  assert.equal(await mainOf(server, 'shared'), tip);
  const submitted = await cli(['jobs', 'submit', '--title', 't', '--command', 'true', '--json'], { server, cwd: mate });
  assert.equal(submitted.code, 0, submitted.stderr);
  assert.equal((JSON.parse(submitted.stdout) as Job).repo_id, shared.id);

  // Linking again re-points the remote (by id, with a PATH), and says what it was.
  const other = (await api<Repo>(server, 'POST', '/api/repos', { name: 'other' })).body;
  const again = await cli(['link', other.id, mate], { server, cwd: dir });
  assert.equal(again.code, 0, again.stderr);
  assert.ok(again.stdout.includes(`(was ${shared.clone_url})`), again.stdout);
  assert.equal(await git(['remote', 'get-url', 'lazyaf'], mate), other.clone_url);

  // A remote that is not lazyaf's is replaced too; an unknown repo or a folder that is no checkout is one line.
  const odd = await makeRepo(path.join(dir, 'odd'), { 'a.txt': 'a\n' });
  await git(['remote', 'add', 'lazyaf', 'https://example.test/not-lazyaf.git'], odd);
  assert.equal((await cli(['link', 'shared', odd], { server })).code, 0);
  assert.equal(await git(['remote', 'get-url', 'lazyaf'], odd), shared.clone_url);
  assertCliFailure(await cli(['link', 'nope'], { server, cwd: mate }), /^lazyaf: repo not found: nope$/, 'a link to an unknown repo');
  const plain = path.join(dir, 'plain');
  fs.mkdirSync(plain);
  assertCliFailure(await cli(['link', 'shared', plain], { server }), /^lazyaf: not a git repository: /, 'a link of a folder that is no checkout');
});
