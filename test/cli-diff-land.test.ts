import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { JobDiff } from '../src/shared/api.js';
import { api, assertCliFailure, barePath, CLI, cli, git, makeRepoWithOrigin, run, startTestServer, tempDir } from './helpers.js';
import { runJob, startRunnerProcess, submit } from './queue-helpers.js';

/** A checkout with an `origin` (a local bare repo) ingested into lazyaf, and one runner. */
async function world(t: Parameters<typeof tempDir>[0], files: Record<string, string>) {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const { src, origin } = await makeRepoWithOrigin(dir, files);
  const ingest = await cli(['ingest', src, '--name', 'demo'], { server });
  assert.equal(ingest.code, 0, ingest.stderr);
  startRunnerProcess(t, server, 'r1', path.join(dir, 'runners'));
  return { server, dir, origin, src };
}

test('diff shows the files a job added, changed and deleted, with counts, --stat, plain when piped and coloured on a terminal', async (t) => {
  const { server } = await world(t, {
    'keep.txt': 'keep\n',
    'change.txt': 'one\ntwo\nthree\n',
    'gone.txt': 'a\nb\n',
    Makefile: 'all:\n\techo hi\n',
    'moved.txt': 'the same\nfour\nlines\nhere\n',
  });
  const job = await runJob(server, {
    repo_id: 'demo',
    title: 'edit',
    command: `echo new > added.txt; printf 'one\\nTWO\\nthree\\n' > change.txt; rm gone.txt; printf 'x\\033]0;pwned\\007y\\n' > esc.txt; printf 'all:\\n\\techo bye\\n' > Makefile; mv moved.txt renamed.txt; printf '\\000\\001\\002' > blob.bin`,
  });
  assert.equal(job.status, 'succeeded', job.error ?? '');
  const short = job.id.slice(0, 8);

  const json = await cli(['diff', short, '--json'], { server });
  assert.equal(json.code, 0, json.stderr);
  const diff = JSON.parse(json.stdout) as JobDiff;
  assert.equal(diff.commit, job.commit);
  assert.equal(diff.branch, `lazyaf/${short}`);
  assert.deepEqual(
    diff.files.map((f) => [f.path, f.status, f.added, f.removed, f.binary]),
    [
      ['Makefile', 'M', 1, 1, false],
      ['added.txt', 'A', 1, 0, false],
      ['blob.bin', 'A', null, null, true],
      ['change.txt', 'M', 1, 1, false],
      ['esc.txt', 'A', 1, 0, false],
      ['gone.txt', 'D', 0, 2, false],
      ['renamed.txt', 'R', 0, 0, false],
    ],
  );
  assert.equal(diff.files.find((f) => f.status === 'R')?.old_path, 'moved.txt');
  assert.deepEqual([diff.added, diff.removed, diff.truncated], [4, 4, false]);
  // The base is where the branch started: main's tip in the internal repo.
  assert.equal(diff.base_commit, await git(['rev-parse', 'main'], barePath(server.dataDir, job.repo_id)));

  const plain = await cli(['diff', short], { server });
  assert.equal(plain.code, 0, plain.stderr);
  assert.doesNotMatch(plain.stdout, /\x1b/, 'piped: no escape codes, and none of the job text');
  for (const line of ['diff --git a/added.txt b/added.txt', '+new', '-two', '+TWO', 'deleted file mode 100644', '-a', '\techo hi', '+x\\x1b]0;pwned\\x07y']) {
    assert.ok(
      plain.stdout.split('\n').some((l) => l === line || l === `-${line}` || l === `+${line}`),
      `diff has ${JSON.stringify(line)}:\n${plain.stdout}`,
    );
  }

  const stat = await cli(['diff', short, '--stat'], { server });
  assert.equal(stat.code, 0, stat.stderr);
  assert.deepEqual(stat.stdout.split('\n'), [
    ' M Makefile                  +1 -1',
    ' A added.txt                 +1 -0',
    ' A blob.bin                  binary',
    ' M change.txt                +1 -1',
    ' A esc.txt                   +1 -0',
    ' D gone.txt                  +0 -2',
    ' R moved.txt => renamed.txt  +0 -0',
    ' 7 files changed, 4 insertions(+), 4 deletions(-)',
    '',
  ]);

  // On a terminal (script(1) gives it one): colours, and still none of the job's own escapes.
  const tty = await run('script', ['-qec', `'${process.execPath}' '${CLI}' diff ${short}`, '/dev/null'], {
    env: { ...process.env, LAZYAF_SERVER: server.url, LAZYAF_TOKEN: server.token },
  });
  assert.equal(tty.code, 0, tty.stdout);
  assert.match(tty.stdout, /\x1b\[32m\+TWO\x1b\[0m/);
  assert.match(tty.stdout, /\x1b\[31m-two\x1b\[0m/);
  assert.match(tty.stdout, /\x1b\[36m@@ /);
  assert.match(tty.stdout, /\x1b\[1mdiff --git a\/added.txt b\/added.txt\x1b\[0m/);
  assert.doesNotMatch(tty.stdout, /\x1b\]0;pwned/);
  const noColor = await run('script', ['-qec', `'${process.execPath}' '${CLI}' diff ${short}`, '/dev/null'], {
    env: { ...process.env, LAZYAF_SERVER: server.url, LAZYAF_TOKEN: server.token, NO_COLOR: '1' },
  });
  assert.doesNotMatch(noColor.stdout, /\x1b\[3/);

  // A job that changed nothing.
  const idle = await runJob(server, { repo_id: 'demo', title: 'read only', command: 'cat keep.txt' });
  const none = await cli(['diff', idle.id], { server });
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /^no changes: job \S+ has no commit$/m);
});

test('a diff past max_bytes is cut at a line with a marker; a job whose commit is gone is a 409; bad queries are 400s', async (t) => {
  const { server } = await world(t, { 'README.md': '# demo\n' });
  const job = await runJob(server, { repo_id: 'demo', title: 'big', command: 'seq 1 200000 > big.txt; echo small > small.txt' });
  assert.equal(job.status, 'succeeded', job.error ?? '');

  // The server account's own git config does not change the answer's shape.
  const userConfig = process.env.GIT_CONFIG_GLOBAL!;
  const saved = fs.readFileSync(userConfig, 'utf8');
  fs.appendFileSync(userConfig, '[diff]\n\tnoprefix = true\n\tmnemonicPrefix = true\n');
  t.after(() => fs.writeFileSync(userConfig, saved));
  const capped = await cli(['diff', job.id, '--max-bytes', '4096'], { server });
  assert.equal(capped.code, 0, capped.stderr);
  assert.ok(capped.stdout.startsWith('diff --git a/big.txt b/big.txt\n'), capped.stdout.slice(0, 200));
  const lines = capped.stdout.trimEnd().split('\n');
  assert.equal(lines.at(-1), '[lazyaf: diff truncated at 4096 bytes; the list of files and their counts is complete]');
  assert.ok(Buffer.byteLength(capped.stdout) <= 4096 + 200, `cut near the cap: ${Buffer.byteLength(capped.stdout)} bytes`);
  assert.ok(
    lines.slice(0, -1).every((l) => /^(diff |index |new file|--- |\+\+\+ |@@ |\+\d+$)/.test(l)),
    'whole lines before the marker',
  );
  const body = (await api<JobDiff>(server, 'GET', `/api/jobs/${job.id}/diff?max_bytes=4096`)).body;
  assert.equal(body.truncated, true);
  assert.deepEqual(
    body.files.map((f) => [f.path, f.added]),
    [
      ['big.txt', 200000],
      ['small.txt', 1],
    ],
  );
  const statOnly = (await api<JobDiff>(server, 'GET', `/api/jobs/${job.id}/diff?stat=true`)).body;
  assert.deepEqual([statOnly.diff, statOnly.truncated, statOnly.files.length], ['', false, 2]);

  for (const query of ['max_bytes=10', 'max_bytes=abc', 'stat=maybe', 'other=1']) {
    assert.equal((await api(server, 'GET', `/api/jobs/${job.id}/diff?${query}`)).status, 400, query);
  }
  assert.equal((await api(server, 'GET', '/api/jobs/nope/diff')).status, 404);

  // Its branch deleted and the objects pruned: a clear refusal, never a 500.
  const bare = barePath(server.dataDir, job.repo_id);
  await git(['update-ref', '-d', `refs/heads/${job.branch}`], bare);
  await git(['reflog', 'expire', '--expire=now', '--expire-unreachable=now', '--all'], bare);
  await git(['gc', '-q', '--prune=now'], bare);
  const gone = await api(server, 'GET', `/api/jobs/${job.id}/diff`);
  assert.equal(gone.status, 409, JSON.stringify(gone.body));
  assertCliFailure(await cli(['diff', job.id], { server }), /^lazyaf: job \S+'s commit [0-9a-f]{12} is no longer in the repo/, 'a diff of a gone commit');
});

test('land JOB pushes its branch to origin; after a redo moved the landed branch it says so, and --force-with-lease replaces it', async (t) => {
  const { server, origin, src } = await world(t, { 'a.txt': 'one\n' });
  const job = await runJob(server, { repo_id: 'demo', title: 'change a', command: 'echo two > a.txt' });
  assert.equal(job.status, 'succeeded', job.error ?? '');
  const branch = job.branch!;

  const landed = await cli(['land', job.id.slice(0, 8)], { server, cwd: src });
  assert.equal(landed.code, 0, landed.stderr);
  assert.match(landed.stdout, new RegExp(`^Landed ${branch} \\(${job.commit!.slice(0, 12)}\\) on origin$`, 'm'));
  assert.equal(await git(['rev-parse', `refs/heads/${branch}`], origin), job.commit);

  // The landed branch moves on the remote under a commit lazyaf's branch does not have (as when the job is redone).
  await git(['checkout', '-q', '-b', 'redo', 'main'], src);
  await git(['commit', '-q', '--allow-empty', '-m', 'someone else'], src);
  await git(['push', '-q', '--force', 'origin', `redo:refs/heads/${branch}`], src);
  const moved = await git(['rev-parse', `refs/heads/${branch}`], origin);

  assertCliFailure(
    await cli(['land', job.id], { server, cwd: src }),
    new RegExp(`^lazyaf: ${branch} on origin has moved: it holds commits this branch does not .*; to replace it, pass --force-with-lease$`),
    'a land onto a moved branch',
    { afterGit: true },
  );
  assert.equal(await git(['rev-parse', `refs/heads/${branch}`], origin), moved, 'the remote is untouched');

  const forced = await cli(['land', job.id, '--force-with-lease'], { server, cwd: src });
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, new RegExp(`replacing ${moved.slice(0, 12)}`));
  assert.equal(await git(['rev-parse', `refs/heads/${branch}`], origin), job.commit);

  // `land REPO --branch B` still works beside it.
  const byRepo = await cli(['land', 'demo', '--branch', branch], { server, cwd: src });
  assert.equal(byRepo.code, 0, byRepo.stderr);
});

test('land JOB refuses a job without changes, a failed job (naming the explicit way) and an unknown job, in one line', async (t) => {
  const { server, src } = await world(t, { 'a.txt': 'one\n' });
  const idle = await runJob(server, { repo_id: 'demo', title: 'nothing', command: 'true' });
  const failed = await runJob(server, { repo_id: 'demo', title: 'fails', command: 'echo x > b.txt; exit 3' });
  assert.equal(failed.status, 'failed');

  const cases: [string[], RegExp][] = [
    [['land', idle.id], /^lazyaf: job \S{8} succeeded with no changes: it has no branch to land$/],
    [['land', 'ffffffff'], /^lazyaf: job not found: ffffffff$/],
    [['land', 'demo'], /^lazyaf: "demo" is not a job id; to land a branch of a repo: lazyaf land demo --branch B$/],
  ];
  if (failed.branch) {
    // A failed job's work is kept on its branch: landing it takes the explicit form.
    cases.push([
      ['land', failed.id],
      new RegExp(
        `^lazyaf: job \\S{8} failed; its branch holds what it left\\. To land it anyway: lazyaf land (demo|${failed.repo_id}) --branch ${failed.branch}$`,
      ),
    ]);
  }
  for (const [args, re] of cases) assertCliFailure(await cli(args, { server, cwd: src }), re, args.join(' '));
});

test('land refuses a checkout not linked to the repo (another project, or one linked elsewhere): its origin is untouched; the linked one lands', async (t) => {
  const { server, dir, src, origin } = await world(t, { 'a.txt': 'one\n' });
  const job = await runJob(server, { repo_id: 'demo', title: 'change a', command: 'echo two > a.txt' });
  assert.equal(job.status, 'succeeded', job.error ?? '');
  const branch = job.branch!;

  // Another project with its own origin, never ingested: landing there would give it demo's history.
  const other = await makeRepoWithOrigin(path.join(dir, 'other'), { 'b.txt': 'b\n' });
  const refsBefore = await git(['for-each-ref'], other.origin);
  const notLinked = new RegExp(
    `^lazyaf: ${other.src} is not linked to lazyaf repo demo \\(it has no "lazyaf" remote\\): land from the checkout "lazyaf ingest" linked to it, or link this one first if its origin is demo's remote \\(lazyaf link demo\\), or land it on ${origin} from demo's page in the web UI$`,
  );
  assertCliFailure(await cli(['land', job.id.slice(0, 8)], { server, cwd: other.src }), notLinked, 'land JOB from an unrelated checkout');
  assertCliFailure(await cli(['land', 'demo', '--branch', branch], { server, cwd: other.src }), notLinked, 'land REPO --branch from an unrelated checkout');

  // Linked, but to another lazyaf repo.
  assert.equal((await cli(['ingest', other.src, '--name', 'other'], { server })).code, 0);
  const refsLinked = await git(['for-each-ref'], other.origin);
  assertCliFailure(
    await cli(['land', 'demo', '--branch', branch], { server, cwd: other.src }),
    new RegExp(`^lazyaf: ${other.src} is linked to lazyaf repo other, not demo: land from the checkout "lazyaf ingest" linked to demo`),
    'land from a checkout linked to another repo',
  );
  assert.equal(await git(['for-each-ref'], other.origin), refsLinked, "the other project's origin is untouched");
  assert.equal(refsLinked, refsBefore);
  assert.equal((await run('git', ['rev-parse', '--verify', '-q', `refs/heads/${branch}`], { cwd: other.origin })).code, 1);

  const landed = await cli(['land', job.id], { server, cwd: src });
  assert.equal(landed.code, 0, landed.stderr);
  assert.equal(await git(['rev-parse', `refs/heads/${branch}`], origin), job.commit);
});

test("land refuses a queued job and its branch named with --branch, with the same reason as the server's land", async (t) => {
  const server = await startTestServer(t);
  const { src } = await makeRepoWithOrigin(tempDir(t), { 'a.txt': 'one\n' });
  assert.equal((await cli(['ingest', src, '--name', 'demo'], { server })).code, 0);
  // No runner has its label: it stays queued.
  const queued = await submit(server, { repo_id: 'demo', title: 'waits', command: 'true', labels: ['nobody-has-this'] });
  const short = queued.id.slice(0, 8);
  const reason = `job ${short} is queued: it has not run yet, nothing to land until it has finished \\(or cancel it: lazyaf jobs cancel ${short}\\)`;
  assertCliFailure(await cli(['land', queued.id], { server, cwd: src }), new RegExp(`^lazyaf: ${reason}$`), 'land JOB');
  assertCliFailure(
    await cli(['land', 'demo', '--branch', `lazyaf/${short}`], { server, cwd: src }),
    new RegExp(`^lazyaf: cannot land lazyaf/${short}: ${reason}$`),
    'land REPO --branch',
  );
  const server409 = await api(server, 'POST', `/api/repos/${queued.repo_id}/land`, { branch: `lazyaf/${short}` });
  assert.equal(server409.status, 409);
  assert.match(server409.body.message, new RegExp(`^cannot land lazyaf/${short}: ${reason}$`));
});
