import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cli, commitFiles, git, makeRepo, makeRepoWithOrigin, startTestServer, tempDir } from './helpers.js';

test('ingest pushes the current branch, and a clone through the CLI remote has the same tree', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const src = await makeRepo(path.join(dir, 'src'), { 'README.md': '# demo\n', 'src/a.txt': 'alpha\n', 'src/b/c.txt': 'gamma\n' });
  await commitFiles(src, { 'src/a.txt': 'alpha 2\n' }, 'second');

  const ingest = await cli(['ingest', src, '--name', 'demo'], { server });
  assert.equal(ingest.code, 0, ingest.stderr);
  assert.match(ingest.stdout, /Ingested .* as "demo"/);
  // git's own progress is shown.
  assert.match(ingest.stderr, /\[new branch\]\s+main -> main/);

  const config = fs.readFileSync(path.join(src, '.git', 'config'), 'utf8');
  assert.ok(!config.includes(server.token), 'the admin token must not be written into the repo config');

  // The lazyaf remote works for a plain git command through the credential helper.
  const clone = path.join(dir, 'clone');
  const cloneUrl = await git(['remote', 'get-url', 'lazyaf'], src);
  await git(
    [
      '-c',
      `credential.${new URL(cloneUrl).origin}.helper=!'${process.execPath}' '${path.resolve('dist/cli/main.js')}' credential`,
      'clone',
      '-q',
      cloneUrl,
      clone,
    ],
    dir,
    {
      ...process.env,
      LAZYAF_TOKEN: server.token,
    },
  );
  assert.equal(await git(['rev-parse', 'HEAD^{tree}'], clone), await git(['rev-parse', 'HEAD^{tree}'], src));
  assert.equal(await git(['rev-parse', '--abbrev-ref', 'HEAD'], clone), 'main');

  const list = await cli(['list'], { server });
  assert.equal(list.code, 0);
  assert.match(list.stdout, /^demo\s+[0-9a-f-]{36}\s+main/m);
});

test('a pushed branch shows in `branches`, and `land` pushes it to the real remote and runs gh for --pr', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const { src, origin } = await makeRepoWithOrigin(dir, { 'a.txt': 'one\n' });
  assert.equal((await cli(['ingest', src, '--name', 'landme'], { server })).code, 0);

  // A job's work arrives as a lazyaf/ branch pushed to the internal server.
  await git(['checkout', '-q', '-b', 'lazyaf/ab12cd34'], src);
  const tip = await commitFiles(src, { 'a.txt': 'two\n' }, 'agent work');
  await git(['push', '-q', 'lazyaf', 'lazyaf/ab12cd34'], src, { ...process.env, LAZYAF_TOKEN: server.token });
  await git(['checkout', '-q', 'main'], src);
  await git(['branch', '-q', '-D', 'lazyaf/ab12cd34'], src);

  const branches = await cli(['branches', 'landme', '--json'], { server });
  assert.equal(branches.code, 0, branches.stderr);
  const parsed = JSON.parse(branches.stdout) as { branches: { name: string; commit: string; is_lazyaf: boolean; is_default: boolean }[] };
  assert.deepEqual(
    parsed.branches.map((b) => [b.name, b.is_default, b.is_lazyaf]),
    [
      ['lazyaf/ab12cd34', false, true],
      ['main', true, false],
    ],
  );

  // A fake gh that records its arguments stands in for GitHub's CLI.
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const record = path.join(dir, 'gh-args');
  fs.writeFileSync(path.join(bin, 'gh'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${record}'\necho https://example.test/pr/1\n`, { mode: 0o755 });
  const land = await cli(['land', 'landme', '--branch', 'lazyaf/ab12cd34', '--pr'], { server, cwd: src, env: { PATH: `${bin}:${process.env.PATH}` } });
  assert.equal(land.code, 0, land.stderr);
  assert.equal(await git(['rev-parse', 'refs/heads/lazyaf/ab12cd34'], origin), tip);
  assert.deepEqual(fs.readFileSync(record, 'utf8').trim().split('\n'), ['pr', 'create', '--base', 'main', '--head', 'lazyaf/ab12cd34', '--fill']);
  assert.match(land.stdout, /https:\/\/example.test\/pr\/1/);

  // Without gh on PATH the push still happens, and the error says what is missing.
  const noGh = await cli(['land', 'landme', '--branch', 'main', '--pr', '--base', 'main'], {
    server,
    cwd: src,
    env: { PATH: path.dirname(process.execPath) + ':/usr/bin:/bin' },
  });
  assert.notEqual(noGh.code, 0);
  assert.match(noGh.stderr, /^lazyaf: .*"gh" is not on PATH/m);
});

test('ingest --all-branches pushes every branch; a second ingest with the same name is refused', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'a\n' });
  await git(['branch', 'feature'], src);
  await git(['branch', 'other'], src);
  const r = await cli(['ingest', src, '--name', 'multi', '--all-branches'], { server });
  assert.equal(r.code, 0, r.stderr);
  const branches = JSON.parse((await cli(['branches', 'multi', '--json'], { server })).stdout) as { branches: { name: string }[] };
  assert.deepEqual(branches.branches.map((b) => b.name).sort(), ['feature', 'main', 'other']);

  // Another checkout (this one is linked already, which ingest refuses first).
  const copy = await makeRepo(path.join(dir, 'copy'), { 'a.txt': 'a\n' });
  const again = await cli(['ingest', copy, '--name', 'multi'], { server });
  assert.equal(again.code, 1);
  assert.equal(again.stderr.trim(), `lazyaf: a repo named "multi" already exists; to link this checkout to it: lazyaf link multi ${copy}`);
  assert.ok(!(await git(['remote'], copy)).includes('lazyaf'), 'no remote added for a repo that was not created');
});

test('CLI failures are one clear line and a non-zero exit', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const notRepo = path.join(dir, 'plain');
  fs.mkdirSync(notRepo);
  const empty = path.join(dir, 'empty');
  await git(['init', '-q', empty]);

  const cases: [string[], RegExp, Parameters<typeof cli>[1]][] = [
    [['ingest', notRepo, '--name', 'x'], /^lazyaf: not a git repository: /, { server }],
    [['ingest', empty, '--name', 'x'], /^lazyaf: nothing to push: .* has no commits yet$/, { server }],
    [['list'], /^lazyaf: cannot reach the lazyaf server at http:\/\/127\.0\.0\.1:9 /, { env: { LAZYAF_SERVER: 'http://127.0.0.1:9', LAZYAF_TOKEN: 'x' } }],
    [['list'], /^lazyaf: unauthorized: invalid token/, { server, env: { LAZYAF_TOKEN: 'wrong' } }],
    [['branches', 'nope'], /^lazyaf: repo not found: nope$/, { server }],
    [['land', 'nope', '--branch', 'main'], /^lazyaf: (not a git repository|no remote named)/, { server, cwd: notRepo }],
  ];
  for (const [args, re, opts] of cases) {
    const r = await cli(args, opts);
    assert.notEqual(r.code, 0, `${args.join(' ')} should fail`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')}: one line expected, got:\n${r.stderr}`);
    assert.match(lines[0] ?? '', re);
  }
});
