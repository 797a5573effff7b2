import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { retryTransientGit } from '../src/runner/git-retry.js';
import { publishChanges } from '../src/runner/publish.js';
import { GitError } from '../src/shared/git.js';
import { prepareWorkspace, WorkspaceError } from '../src/runner/workspace.js';
import { readBranchCommit } from '../src/server/git/bare.js';
import { authUrl, commitFiles, git, startTestServer, tempDir } from './helpers.js';
import { job, serverRepo } from './workspace-helpers.js';

function recorder(): { log: (line: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}

/** Every file below `dir` whose content contains `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (fs.readFileSync(file).includes(needle)) found.push(file);
  }
  return found;
}

test('the first job on a repo clones, the next one fetches into the cache', async (t) => {
  const server = await startTestServer(t);
  const repo = await serverRepo(t, server, { 'README.md': 'hello\n' });
  const workdir = tempDir(t);

  const first = recorder();
  const ws1 = await prepareWorkspace(job(server, repo, 1), { workdir, log: first.log });
  assert.equal(ws1.cloned, true);
  assert.ok(
    first.lines.some((l) => l.startsWith('cloning')),
    first.lines.join('\n'),
  );
  assert.equal(fs.readFileSync(path.join(ws1.dir, 'README.md'), 'utf8'), 'hello\n');
  assert.equal(await git(['rev-parse', '--abbrev-ref', 'HEAD'], ws1.dir), 'lazyaf/job1');

  const newBase = await commitFiles(repo.local, { 'second.txt': 'two\n' }, 'second');
  await git(['push', '-q', authUrl(repo.cloneUrl, server.token), 'main:main'], repo.local);

  const second = recorder();
  const ws2 = await prepareWorkspace(job(server, repo, 2), { workdir, log: second.log });
  assert.equal(ws2.cloned, false);
  assert.deepEqual(second.lines, ['using cached repo']);
  assert.equal(ws2.cacheDir, ws1.cacheDir);
  assert.equal(ws2.dir, ws1.dir, 'the checkout is reused');
  assert.equal(ws2.baseCommit, newBase);
  assert.equal(fs.readFileSync(path.join(ws2.dir, 'second.txt'), 'utf8'), 'two\n');
  assert.equal(await git(['rev-parse', 'HEAD'], ws2.dir), newBase);

  // The prompt lives outside the checkout, so it is never committed.
  assert.equal(fs.readFileSync(ws2.promptFile, 'utf8'), '# Task 2\nDo the thing.\n');
  assert.ok(!path.relative(ws2.dir, ws2.promptFile).startsWith('prompt'), 'prompt file is outside the workspace');
  assert.ok(path.relative(ws2.dir, ws2.promptFile).startsWith('..'));
});

test("a job whose base commit the cache got from this runner's last fetch of the branch skips the fetch; the server reads that commit at the claim", async (t) => {
  const server = await startTestServer(t);
  const repo = await serverRepo(t, server, { 'README.md': 'hello\n' });
  const workdir = tempDir(t);
  const repoPath = path.join(server.dataDir, 'repos', `${repo.id}.git`);
  const base = await readBranchCommit(repoPath, 'main');
  assert.equal(base, await git(['rev-parse', 'HEAD'], repo.local));
  await prepareWorkspace(job(server, repo, 1, { base_commit: base }), { workdir, log: () => {} });

  // The server is not asked: a clone URL nobody answers at still works.
  const offline = { ...repo, cloneUrl: `http://127.0.0.1:${await freePort()}/git/${repo.id}.git` };
  const skipped = recorder();
  const ws = await prepareWorkspace(job(server, offline, 2, { base_commit: base }), { workdir, log: skipped.log, signal: AbortSignal.timeout(10_000) });
  assert.deepEqual(skipped.lines, ['using cached repo (at the base commit already)']);
  assert.equal(ws.baseCommit, base);
  assert.equal(await git(['rev-parse', 'HEAD'], ws.dir), base);

  // The branch moved: the commit the server names is fetched.
  const moved = await commitFiles(repo.local, { 'second.txt': 'two\n' }, 'second');
  await git(['push', '-q', authUrl(repo.cloneUrl, server.token), 'main:main'], repo.local);
  await git(['pack-refs', '--all'], repoPath);
  assert.equal(await readBranchCommit(repoPath, 'main'), moved, 'read from packed-refs too');
  const fetched = recorder();
  const ws3 = await prepareWorkspace(job(server, repo, 3, { base_commit: moved }), { workdir, log: fetched.log });
  assert.deepEqual(fetched.lines, ['using cached repo']);
  assert.equal(ws3.baseCommit, moved);
  assert.equal(await readBranchCommit(repoPath, 'nope'), undefined);
  assert.equal(await readBranchCommit(repoPath, '../../config'), undefined);
  // packed-refs is parsed once per version of the file: a new one, written over it, is read again.
  const third = await commitFiles(repo.local, { 'third.txt': 'three\n' }, 'third');
  await git(['push', '-q', authUrl(repo.cloneUrl, server.token), 'main:main'], repo.local);
  await git(['pack-refs', '--all'], repoPath);
  assert.ok(!fs.existsSync(path.join(repoPath, 'refs', 'heads', 'main')), 'main is only in packed-refs');
  assert.equal(await readBranchCommit(repoPath, 'main'), third, 'the new packed-refs is read');
});

test('a workspace starts clean: whatever the previous job left is gone', async (t) => {
  const server = await startTestServer(t);
  const repo = await serverRepo(t, server, { 'README.md': 'hello\n', '.gitignore': '*.log\n' });
  const workdir = tempDir(t);

  const ws1 = await prepareWorkspace(job(server, repo, 1), { workdir });
  fs.writeFileSync(path.join(ws1.dir, 'README.md'), 'changed by job 1\n');
  fs.writeFileSync(path.join(ws1.dir, 'untracked.txt'), 'left over\n');
  fs.writeFileSync(path.join(ws1.dir, 'debug.log'), 'ignored but left over\n');
  fs.mkdirSync(path.join(ws1.dir, 'nested', 'dir'), { recursive: true });
  fs.writeFileSync(path.join(ws1.dir, 'nested', 'dir', 'f'), 'x');
  await git(['add', 'untracked.txt'], ws1.dir);
  await git(['commit', '-q', '-m', 'job 1 committed something'], ws1.dir);
  fs.writeFileSync(path.join(ws1.dir, '.git', 'index.lock'), ''); // as if job 1 was killed mid-commit
  await git(['config', 'user.name', 'Job One'], ws1.dir);

  const ws2 = await prepareWorkspace(job(server, repo, 2), { workdir });
  assert.equal(fs.readFileSync(path.join(ws2.dir, 'README.md'), 'utf8'), 'hello\n');
  for (const leftover of ['untracked.txt', 'debug.log', 'nested']) assert.equal(fs.existsSync(path.join(ws2.dir, leftover)), false, `${leftover} is gone`);
  assert.equal(await git(['status', '--porcelain', '--ignored'], ws2.dir), '');
  assert.equal(await git(['rev-parse', 'HEAD'], ws2.dir), ws2.baseCommit);
  assert.equal(await git(['config', '--local', '--get-all', 'user.name'], ws2.dir).catch(() => ''), '', 'config a job wrote is reset');
});

test("a reused checkout is restored from the runner's own index, whatever the job did to its files", async (t) => {
  const server = await startTestServer(t);
  const repo = await serverRepo(t, server, { 'README.md': 'hello\n', 'src/a.txt': 'a\n', 'src/b.txt': 'b\n' });
  const workdir = tempDir(t);
  const ws1 = await prepareWorkspace(job(server, repo, 1), { workdir });
  // Same size as before, so only the file's ctime tells git it changed.
  fs.writeFileSync(path.join(ws1.dir, 'src', 'a.txt'), 'x\n');
  fs.rmSync(path.join(ws1.dir, 'src', 'b.txt'));
  fs.mkdirSync(path.join(ws1.dir, 'src', 'b.txt'));
  // Nothing the job leaves in its own .git (here: a forged index) is read for the next job.
  fs.writeFileSync(path.join(ws1.dir, '.git', 'index'), 'DIRC not really an index');

  const ws2 = await prepareWorkspace(job(server, repo, 2), { workdir });
  assert.equal(fs.readFileSync(path.join(ws2.dir, 'src', 'a.txt'), 'utf8'), 'a\n');
  assert.equal(fs.readFileSync(path.join(ws2.dir, 'src', 'b.txt'), 'utf8'), 'b\n');
  assert.equal(await git(['status', '--porcelain', '--ignored'], ws2.dir), '');
});

test('the job token never reaches argv, a remote URL or any file of the cache', async (t) => {
  const server = await startTestServer(t);
  const repo = await serverRepo(t, server, { 'README.md': 'hello\n' });
  const workdir = tempDir(t);

  // A git on PATH that records its arguments, then runs the real one.
  const shimDir = tempDir(t);
  const argvLog = path.join(shimDir, 'argv.log');
  const gitBinary = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  fs.writeFileSync(path.join(shimDir, 'git'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argvLog}'\nexec '${gitBinary}' "$@"\n`, { mode: 0o755 });
  const savedPath = process.env.PATH;
  process.env.PATH = `${shimDir}:${savedPath}`;
  t.after(() => (process.env.PATH = savedPath));

  const ws1 = await prepareWorkspace(job(server, repo, 1), { workdir });
  fs.writeFileSync(path.join(ws1.dir, 'out.txt'), 'result\n');
  const commit = await publishChanges(job(server, repo, 1), ws1);
  await prepareWorkspace(job(server, repo, 2), { workdir });

  const argv = fs.readFileSync(argvLog, 'utf8');
  assert.match(argv, /^fetch /m, 'the shim saw the fetch into the cache');
  assert.match(argv, /^push /m, 'the shim saw the push');
  assert.ok(!argv.includes(server.token), 'token not in any argv');
  assert.deepEqual(filesContaining(workdir, server.token), [], 'token in no file under the workdir');
  assert.equal(await git(['config', '--get', 'remote.origin.url'], ws1.dir), repo.cloneUrl);
  assert.ok(commit);
});

test('after the command: uncommitted work is committed as the agent and pushed; no change means no commit', async (t) => {
  const server = await startTestServer(t);
  const repo = await serverRepo(t, server, { 'README.md': 'hello\n' });
  const workdir = tempDir(t);
  const check = tempDir(t);

  const a = job(server, repo, 1);
  const ws = await prepareWorkspace(a, { workdir });
  fs.writeFileSync(path.join(ws.dir, 'made-by-command.txt'), 'content\n');
  await git(['commit', '-q', '--allow-empty', '-m', 'a commit the command made itself'], ws.dir);
  const commit = await publishChanges(a, ws);
  assert.match(commit ?? '', /^[0-9a-f]{40}$/);

  await git(['clone', '-q', authUrl(repo.cloneUrl, server.token), check]);
  await git(['fetch', '-q', 'origin', 'lazyaf/job1'], check);
  assert.equal(await git(['rev-parse', 'FETCH_HEAD'], check), commit);
  assert.equal(
    await git(['log', '-1', '--format=%an <%ae>|%cn <%ce>|%s', 'FETCH_HEAD'], check),
    'lazyaf agent <agent@lazyaf.invalid>|lazyaf agent <agent@lazyaf.invalid>|job number 1',
  );
  assert.equal(await git(['log', '-1', '--format=%s', 'FETCH_HEAD~1'], check), 'a commit the command made itself', "the command's own commit is kept");
  assert.equal(await git(['show', 'FETCH_HEAD:made-by-command.txt'], check), 'content');

  const unchanged = job(server, repo, 2);
  const ws3 = await prepareWorkspace(unchanged, { workdir });
  assert.equal(await publishChanges(unchanged, ws3), null);
});

test('a base branch the server does not have fails with one clear line', async (t) => {
  const server = await startTestServer(t);
  const repo = await serverRepo(t, server, { 'README.md': 'hello\n' });
  const workdir = tempDir(t);
  for (const attempt of [1, 2]) {
    // First on a fresh clone, then on the cache.
    await assert.rejects(prepareWorkspace(job(server, repo, attempt, { base_branch: 'no-such-branch' }), { workdir }), (err: Error) => {
      assert.ok(err instanceof WorkspaceError);
      assert.equal(err.message, 'base branch "no-such-branch" not found on the server');
      return true;
    });
  }
  await assert.rejects(prepareWorkspace(job(server, repo, 3, { repo_id: '../escape' }), { workdir }), /invalid repo id/);
  await assert.rejects(prepareWorkspace(job(server, repo, 3, { job_token: 'wrong-token' }), { workdir: tempDir(t) }), (err: Error) => {
    assert.ok(err instanceof WorkspaceError);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
});

/** A free port on 127.0.0.1, closed again. */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

test('while the server is unreachable, clone and push wait for it instead of failing the job', async (t) => {
  const server = await startTestServer(t);
  const repo = await serverRepo(t, server, { 'README.md': 'hello\n' });
  const workdir = tempDir(t);
  // The runner is told a URL on a port where nothing listens yet, as during a server restart.
  const port = await freePort();
  const down = { id: repo.id, cloneUrl: repo.cloneUrl.replace(/:\d+\//, `:${port}/`) };
  const target = new URL(server.url);
  const proxy = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  t.after(() => proxy.close());

  const lines: string[] = [];
  const log = (line: string) => {
    lines.push(line);
    // The first retry is the moment the server "comes back".
    if (line.startsWith('server unreachable') && !proxy.listening) proxy.listen(port, '127.0.0.1');
  };
  const ws = await prepareWorkspace(job(server, down, 1), { workdir, log });
  assert.ok(
    lines.some((l) => /^server unreachable \(.*\); retrying$/.test(l)),
    lines.join('\n'),
  );
  assert.equal(fs.readFileSync(path.join(ws.dir, 'README.md'), 'utf8'), 'hello\n');

  await new Promise((resolve) => proxy.close(resolve));
  fs.writeFileSync(path.join(ws.dir, 'new.txt'), 'x\n');
  lines.length = 0;
  const commit = await publishChanges(job(server, down, 1), ws, { log });
  assert.match(commit ?? '', /^[0-9a-f]{40}$/);
  assert.ok(
    lines.some((l) => l.startsWith('server unreachable')),
    lines.join('\n'),
  );
});

test('git retries stop at a lasting error and when the job is stopped', async () => {
  const transient = new GitError('x', {
    code: 128,
    stdout: '',
    stderr: "fatal: unable to access 'http://h/': Failed to connect to h port 1: Connection refused\n",
  });
  const lasting = new GitError('x', { code: 128, stdout: '', stderr: "fatal: Authentication failed for 'http://h/'\n" });
  let calls = 0;
  await assert.rejects(
    retryTransientGit(async () => {
      calls++;
      throw lasting;
    }),
    (err) => err === lasting,
  );
  assert.equal(calls, 1);

  const stop = new AbortController();
  calls = 0;
  await assert.rejects(
    retryTransientGit(
      async () => {
        if (++calls === 3) stop.abort();
        throw transient;
      },
      { signal: stop.signal },
    ),
    { name: 'AbortError' },
  );
  assert.equal(calls, 3);
});

test('git retries a transfer the server cut off mid-way (it was killed or restarted)', async () => {
  const cutOff = [
    "fatal: unable to access 'http://h/r.git/': transfer closed with outstanding read data remaining\n",
    'fatal: fetch-pack: invalid index-pack output\n',
  ];
  for (const stderr of cutOff) {
    let calls = 0;
    const result = await retryTransientGit(async () => {
      if (++calls === 1) throw new GitError('x', { code: 128, stdout: '', stderr });
      return 'done';
    });
    assert.equal(result, 'done', stderr);
    assert.equal(calls, 2);
  }
});
