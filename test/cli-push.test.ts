import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { BranchList, RepoList } from '../src/shared/api.js';
import { assertCliFailure, CLI, cli, commitFiles, git, makeRepo, makeRepoWithOrigin, run, startTestServer, tempDir } from './helpers.js';
import { submit } from './queue-helpers.js';

test('push sends new local commits and branches to the linked repo; lazyaf list shows origin as the remote', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const { src, origin } = await makeRepoWithOrigin(dir, { 'a.txt': 'one\n' });
  const ingest = await cli(['ingest', src, '--name', 'synced'], { server });
  assert.equal(ingest.code, 0, ingest.stderr);

  const list = JSON.parse((await cli(['list', '--json'], { server })).stdout) as RepoList['repos'];
  assert.equal(list[0]?.remote_url, origin);
  assert.match((await cli(['list'], { server })).stdout, new RegExp(`^synced\\s+\\S+\\s+main\\s+${origin}$`, 'm'));

  const tip = await commitFiles(src, { 'a.txt': 'two\n' }, 'second');
  const push = await cli(['push'], { server, cwd: src });
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stderr, /main -> main/, "git's own progress is shown");
  const branches = async () => JSON.parse((await cli(['branches', 'synced', '--json'], { server })).stdout) as BranchList;
  assert.equal((await branches()).branches.find((b) => b.name === 'main')?.commit, tip);
  assert.match((await cli(['branches', 'synced'], { server })).stdout, new RegExp(`^main\\s+${tip.slice(0, 12)}`, 'm'));

  // From a subfolder, a named branch, then every branch.
  await git(['branch', 'feature'], src);
  await git(['branch', 'other'], src);
  fs.mkdirSync(path.join(src, 'sub'));
  assert.equal((await cli(['push', '--branch', 'feature'], { server, cwd: path.join(src, 'sub') })).code, 0);
  assert.deepEqual(
    (await branches()).branches.map((b) => b.name),
    ['feature', 'main'],
  );
  assert.equal((await cli(['push', '--all-branches'], { server, cwd: src })).code, 0);
  assert.deepEqual(
    (await branches()).branches.map((b) => b.name),
    ['feature', 'main', 'other'],
  );

  // History rewritten locally: lazyaf keeps what it has, and the message says what to do.
  await git(['reset', '-q', '--hard', 'HEAD~1'], src);
  await commitFiles(src, { 'a.txt': 'elsewhere\n' }, 'diverged');
  assertCliFailure(
    await cli(['push'], { server, cwd: src }),
    /^lazyaf: git push to lazyaf was rejected: main on lazyaf has commits this checkout does not have .*git pull lazyaf main/,
    'a diverged push',
    { afterGit: true },
  );
  assert.equal((await branches()).branches.find((b) => b.name === 'main')?.commit, tip);

  // Detached HEAD.
  await git(['checkout', '-q', '--detach'], src);
  assertCliFailure(await cli(['push'], { server, cwd: src }), /^lazyaf: HEAD is detached: pass --branch B or --all-branches$/, 'a detached push');
});

test('ingest refuses to re-point an existing lazyaf remote and creates no repo', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'one\n' });
  assert.equal((await cli(['ingest', src, '--name', 'first'], { server })).code, 0);
  const before = await git(['remote', 'get-url', 'lazyaf'], src);

  const again = await cli(['ingest', src, '--name', 'second'], { server });
  assertCliFailure(
    again,
    /^lazyaf: .* already has a "lazyaf" remote \(.*\); to update that repo: lazyaf push; to start over: git remote remove lazyaf$/,
    'a re-point',
  );
  assert.equal(await git(['remote', 'get-url', 'lazyaf'], src), before);
  const names = (JSON.parse((await cli(['list', '--json'], { server })).stdout) as RepoList['repos']).map((r) => r.name);
  assert.deepEqual(names, ['first']);

  // A push that fails takes its repo and the remote it added with it, so the retry is not refused.
  const other = await makeRepo(path.join(dir, 'other'), { 'b.txt': 'b\n' });
  const hook = path.join(other, '.git', 'hooks', 'pre-push');
  fs.writeFileSync(hook, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  assertCliFailure(await cli(['ingest', other, '--name', 'fails'], { server }), /^lazyaf: git push to lazyaf failed/, 'an ingest whose push fails', {
    afterGit: true,
  });
  assert.ok(!(await git(['remote'], other)).split('\n').includes('lazyaf'), 'the remote it added is gone');
  fs.rmSync(hook);
  assert.equal((await cli(['ingest', other, '--name', 'fails'], { server })).code, 0);
});

test('repos delete asks, refuses without --yes when there is no terminal, and deletes with it', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'one\n' });
  assert.equal((await cli(['ingest', src, '--name', 'doomed'], { server })).code, 0);

  assertCliFailure(
    await cli(['repos', 'delete', 'doomed'], { server }),
    /^lazyaf: not deleting repo doomed \(\S+\) without a yes: pass --yes/,
    'delete without --yes',
  );
  assert.equal((await cli(['branches', 'doomed'], { server })).code, 0, 'the repo is still there');

  // On a terminal (script(1) gives it one) it asks: no keeps the repo, yes deletes it.
  const onTerminal = (repo: string, answer: string) =>
    run('script', ['-qec', `'${process.execPath}' '${CLI}' repos delete ${repo}`, '/dev/null'], {
      env: { ...process.env, LAZYAF_SERVER: server.url, LAZYAF_TOKEN: server.token },
      input: answer,
    });
  const no = await onTerminal('doomed', 'n\n');
  assert.notEqual(no.code, 0);
  assert.match(no.stdout, /Delete repo doomed \(\S+\) with all its branches and jobs\? \[y\/N\] /);
  assert.match(no.stdout, /lazyaf: kept repo doomed /);
  assert.equal((await cli(['branches', 'doomed'], { server })).code, 0, 'the repo is still there');
  const spare = await makeRepo(path.join(dir, 'spare'), { 'a.txt': 'one\n' });
  assert.equal((await cli(['ingest', spare, '--name', 'spare'], { server })).code, 0);
  const yes = await onTerminal('spare', 'y\n');
  assert.equal(yes.code, 0, yes.stdout);
  assert.match(yes.stdout, /Deleted repo spare /);
  assert.notEqual((await cli(['branches', 'spare'], { server })).code, 0, 'the repo is gone');

  // A queued job (no runner has its label) keeps the repo: the server's 409 in one line.
  const job = await submit(server, { repo_id: 'doomed', title: 'waits', command: 'true', labels: ['nobody-has-this'] });
  assertCliFailure(
    await cli(['repos', 'delete', 'doomed', '--yes'], { server }),
    new RegExp(`^lazyaf: repo doomed has 1 queued or running job; cancel it first \\(job ${job.id.slice(0, 8)}\\)$`),
    'delete with a job',
  );
  assert.equal((await cli(['jobs', 'cancel', job.id], { server })).code, 0);

  const deleted = await cli(['repos', 'delete', 'doomed', '--yes'], { server });
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.match(deleted.stdout, /^Deleted repo doomed /);
  assertCliFailure(await cli(['branches', 'doomed'], { server }), /^lazyaf: repo not found: doomed$/, 'the repo is gone');

  // The checkout still names it: push says it is gone and how to start over.
  assertCliFailure(
    await cli(['push'], { server, cwd: src }),
    /^lazyaf: the lazyaf repo this checkout is linked to \(\S+\) is gone from .*git remote remove lazyaf/,
    'a push to a gone repo',
  );
});

test('push, repos delete and submit failures are one line that says what to do', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const plain = path.join(dir, 'plain');
  fs.mkdirSync(plain);
  const unlinked = await makeRepo(path.join(dir, 'unlinked'), { 'a.txt': 'a\n' });
  const odd = await makeRepo(path.join(dir, 'odd'), { 'a.txt': 'a\n' });
  await git(['remote', 'add', 'lazyaf', 'https://example.test/not-lazyaf.git'], odd);
  const linked = await makeRepo(path.join(dir, 'linked'), { 'a.txt': 'a\n' });
  assert.equal((await cli(['ingest', linked, '--name', 'linked'], { server })).code, 0);

  const cases: [string[], string, RegExp][] = [
    [['push'], plain, /^lazyaf: not a git repository: /],
    [
      ['push'],
      unlinked,
      /^lazyaf: no "lazyaf" remote in .*; link this checkout to lazyaf first: lazyaf ingest PATH --name NAME \(a new repo\), or lazyaf link REPO \(a repo already on lazyaf\)$/,
    ],
    [['push'], odd, /^lazyaf: the "lazyaf" remote of .* \(https:\/\/example\.test\/not-lazyaf\.git\) is not a lazyaf repo URL/],
    [['push', '--branch', 'nope'], linked, /^lazyaf: no local branch named "nope" in /],
    [['push', '--branch', 'main', '--all-branches'], linked, /^lazyaf: use either --branch or --all-branches, not both$/],
    [['repos', 'delete', 'nope', '--yes'], dir, /^lazyaf: repo not found: nope$/],
    [['jobs', 'submit', '--repo', 'linked', '--title', 't', '--command', 'true', '--base', 'later'], dir, /push it first: lazyaf push --branch later$/],
  ];
  for (const [args, cwd, re] of cases) assertCliFailure(await cli(args, { server, cwd }), re, args.join(' '));
});
