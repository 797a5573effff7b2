import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { assertFsckClean, pushUrl, randomText } from './git-helpers.js';
import { api, barePath, branchTip, commitFiles, createRepo, git, makeRepo, run, startTestServer, tempDir, tryGit } from './helpers.js';

/** A commit on `branch` whose tree holds one entry named `name`, which git itself would never write. */
async function commitWithEntry(repoDir: string, name: string, branch: string): Promise<void> {
  const blob = (await run('git', ['hash-object', '-w', '--stdin'], { cwd: repoDir, input: 'payload\n' })).stdout.trim();
  const tree = (await run('git', ['mktree'], { cwd: repoDir, input: `100644 blob ${blob}\t${name}\n` })).stdout.trim();
  assert.match(tree, /^[0-9a-f]{40}$/, `mktree made a tree holding ${name}`);
  const commit = await git(['commit-tree', tree, '-p', 'main', '-m', `tree with ${name}`], repoDir);
  await git(['update-ref', `refs/heads/${branch}`, commit], repoDir);
}

test('a push of trees holding .git or .. entries is refused, and the repo stays fsck-clean', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await createRepo(server, 'fsck');
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'a\n' });
  await git(['push', '-q', pushUrl(server, repo), 'main'], src);

  for (const [name, branch] of [
    ['.git', 'dotgit'],
    ['..', 'dotdot'],
    ['.GIT', 'dotgit-upper'],
  ] as const) {
    await commitWithEntry(src, name, branch);
    const pushed = await tryGit(['push', pushUrl(server, repo), branch], src);
    assert.notEqual(pushed.code, 0, `a tree with ${name} must be refused:\n${pushed.stderr}`);
    assert.equal(await branchTip(barePath(server.dataDir, repo.id), branch), undefined, `${branch} must not exist on the server`);
  }
  await assertFsckClean(barePath(server.dataDir, repo.id));
  // An ordinary push still goes through.
  await commitFiles(src, { 'b.txt': 'b\n' }, 'more');
  await git(['push', '-q', pushUrl(server, repo), 'main'], src);
});

test('a push larger than LAZYAF_MAX_PUSH_BYTES is refused with a message that names the limit', async (t) => {
  const server = await startTestServer(t, { LAZYAF_MAX_PUSH_BYTES: String(256 * 1024) });
  const dir = tempDir(t);
  const repo = await createRepo(server, 'big');
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'a\n' });
  await git(['push', '-q', pushUrl(server, repo), 'main'], src);

  await git(['checkout', '-q', '-b', 'huge'], src);
  await commitFiles(src, { 'big.txt': randomText(1024 * 1024) }, 'a megabyte of noise');
  const pushed = await tryGit(['push', pushUrl(server, repo), 'huge'], src);
  assert.notEqual(pushed.code, 0, 'the push must fail');
  assert.match(pushed.stderr, /maximum allowed size|LAZYAF_MAX_PUSH_BYTES/, pushed.stderr);
  assert.equal(await branchTip(barePath(server.dataDir, repo.id), 'huge'), undefined);
  await assertFsckClean(barePath(server.dataDir, repo.id));

  await git(['checkout', '-q', 'main'], src);
  await commitFiles(src, { 'small.txt': 'small\n' }, 'small');
  await git(['push', '-q', pushUrl(server, repo), 'main'], src);
});

test('quarantine dirs and ref locks left by a killed push are removed at start', async (t) => {
  const dataDir = tempDir(t);
  const first = await startTestServer(t, {}, { dataDir });
  const repo = await createRepo(first, 'leftovers');
  const dir = tempDir(t);
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'a\n' });
  await git(['push', '-q', pushUrl(first, repo), 'main'], src);
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));

  const bare = barePath(dataDir, repo.id);
  const quarantine = path.join(bare, 'objects', 'tmp_objdir-incoming-AbC123');
  fs.mkdirSync(path.join(quarantine, 'pack'), { recursive: true });
  fs.writeFileSync(path.join(quarantine, 'pack', 'tmp_pack_x'), 'half a pack');
  fs.writeFileSync(path.join(bare, 'refs', 'heads', 'main.lock'), 'deadbeef\n');

  const second = await startTestServer(t, {}, { dataDir });
  assert.equal(fs.existsSync(quarantine), false, 'the quarantine dir is gone');
  assert.equal(fs.existsSync(path.join(bare, 'refs', 'heads', 'main.lock')), false, 'the ref lock is gone');
  await commitFiles(src, { 'b.txt': 'b\n' }, 'after the restart');
  const moved = (await api(second, 'GET', `/api/repos/${repo.id}`)).body;
  await git(['push', '-q', pushUrl(second, moved), 'main'], src);
  await assertFsckClean(bare);
});
