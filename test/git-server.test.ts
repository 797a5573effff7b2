import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { assertFsckClean, pushUrl, randomText } from './git-helpers.js';
import { api, barePath, branchTip, commitFiles, createRepo, git, makeRepo, startTestServer, tempDir, tryGit } from './helpers.js';

/** A server with one repo holding three commits on main; returns the source work tree too. */
async function seeded(t: Parameters<typeof startTestServer>[0]) {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const src = await makeRepo(path.join(dir, 'src'), { 'README.md': '# seeded\n', 'lib/a.txt': 'alpha\n' });
  await commitFiles(src, { 'lib/b/c.txt': 'gamma\n', 'bin.dat': randomText(20_000) }, 'second');
  await commitFiles(src, { 'lib/a.txt': 'alpha 3\n' }, 'third');
  const repo = await createRepo(server, 'seeded');
  await git(['push', '-q', pushUrl(server, repo), 'main'], src);
  return { server, dir, src, repo, url: pushUrl(server, repo), bare: barePath(server.dataDir, repo.id) };
}

test('clone over protocol v2 and v0 gives the same tree; v2 is really negotiated', async (t) => {
  const { dir, src, url } = await seeded(t);
  const srcTree = await git(['rev-parse', 'HEAD^{tree}'], src);

  const v2 = await tryGit(['-c', 'protocol.version=2', 'clone', url, path.join(dir, 'v2')], dir, { ...process.env, GIT_TRACE_PACKET: '1' });
  assert.equal(v2.code, 0, v2.stderr);
  assert.match(v2.stderr, /git< version 2/);
  assert.match(v2.stderr, /clone> command=fetch/);
  assert.equal(await git(['rev-parse', 'HEAD^{tree}'], path.join(dir, 'v2')), srcTree);
  assert.equal(await git(['rev-parse', '--abbrev-ref', 'HEAD'], path.join(dir, 'v2')), 'main');
  assert.equal(fs.readFileSync(path.join(dir, 'v2', 'lib/a.txt'), 'utf8'), 'alpha 3\n');

  const v0 = await tryGit(['-c', 'protocol.version=0', 'clone', url, path.join(dir, 'v0')], dir, { ...process.env, GIT_TRACE_PACKET: '1' });
  assert.equal(v0.code, 0, v0.stderr);
  assert.match(v0.stderr, /git< # service=git-upload-pack/);
  assert.doesNotMatch(v0.stderr, /version 2/);
  assert.equal(await git(['rev-parse', 'HEAD^{tree}'], path.join(dir, 'v0')), srcTree);
  assert.equal(await git(['rev-list', '--count', 'HEAD'], path.join(dir, 'v0')), '3');
});

test('an incremental fetch with a long (gzipped) request works over v0 and v2', async (t) => {
  const { server, dir, src, url, repo } = await seeded(t);
  const clones = [path.join(dir, 'c0'), path.join(dir, 'c2')];
  for (const clone of clones) await git(['clone', '-q', url, clone], dir);
  // Many new branches: one "want" line each makes a request body git gzips (over 1 KiB).
  const topic = await commitFiles(src, { 'topic.txt': 'topic\n' }, 'topic');
  await git(['push', '-q', url, ...Array.from({ length: 25 }, (_, i) => `HEAD:refs/heads/topic/${i}`)], src);
  for (const [i, version] of ['0', '2'].entries()) {
    const clone = clones[i]!;
    const r = await tryGit(['-c', `protocol.version=${version}`, 'fetch', 'origin'], clone, {
      ...process.env,
      GIT_TRACE_CURL: '1',
      GIT_TRACE_CURL_NO_DATA: '1',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Send header: Content-Encoding: gzip/i, `v${version}: the request body was expected to be gzipped`);
    assert.equal(await git(['rev-parse', 'refs/remotes/origin/topic/24'], clone), topic);
    assert.equal((await git(['for-each-ref', 'refs/remotes/origin/topic/'], clone)).split('\n').length, 25);
  }
  assert.equal((await api(server, 'GET', `/api/repos/${repo.id}/branches`)).body.total, 26);
});

test('a pushed branch shows in the branches endpoint as soon as the push returns', async (t) => {
  const { server, src, url, repo } = await seeded(t);
  for (let i = 0; i < 3; i++) {
    await git(['checkout', '-q', '-B', `lazyaf/0000000${i}`, 'main'], src);
    const tip = await commitFiles(src, { [`f${i}.txt`]: `${i}\n` }, `work ${i}`);
    await git(['push', '-q', url, `lazyaf/0000000${i}`], src);
    const branches = (await api(server, 'GET', `/api/repos/${repo.id}/branches`)).body;
    assert.equal(branches.total, i + 2);
    assert.deepEqual(
      branches.branches.find((b: { name: string }) => b.name === `lazyaf/0000000${i}`),
      { name: `lazyaf/0000000${i}`, commit: tip, is_default: false, is_lazyaf: true },
    );
  }
});

test('shallow and partial clones', async (t) => {
  const { dir, src, url } = await seeded(t);
  const shallow = path.join(dir, 'shallow');
  await git(['clone', '-q', '--depth', '1', url, shallow], dir);
  assert.equal(await git(['rev-list', '--count', 'HEAD'], shallow), '1');
  assert.equal(await git(['rev-parse', 'HEAD'], shallow), await git(['rev-parse', 'HEAD'], src));
  assert.ok(fs.existsSync(path.join(shallow, '.git', 'shallow')));
  // Deepening a shallow clone goes through the same server.
  await git(['fetch', '-q', '--unshallow'], shallow);
  assert.equal(await git(['rev-list', '--count', 'HEAD'], shallow), '3');

  const partial = path.join(dir, 'partial');
  await git(['clone', '-q', '--filter=blob:none', '--no-checkout', url, partial], dir);
  assert.equal(await git(['config', 'remote.origin.promisor'], partial), 'true');
  assert.equal(await git(['config', 'remote.origin.partialclonefilter'], partial), 'blob:none');
  const missing = (await git(['rev-list', '--objects', '--missing=print', '--all'], partial)).split('\n').filter((l) => l.startsWith('?'));
  assert.ok(missing.length >= 4, `blobs should be missing before checkout, got:\n${missing.join('\n')}`);
  // Checkout fetches the blobs it needs on demand.
  await git(['checkout', '-q', 'main'], partial);
  assert.equal(fs.readFileSync(path.join(partial, 'lib/a.txt'), 'utf8'), 'alpha 3\n');
  assert.equal(await git(['rev-parse', 'HEAD^{tree}'], partial), await git(['rev-parse', 'HEAD^{tree}'], src));
  await git(['fsck', '--connectivity-only'], partial);
});

test('HEAD follows the default branch: a trunk-only repo checks out trunk, and PATCH moves it', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const src = await makeRepo(path.join(dir, 'src'), { 'a.txt': 'trunk\n' });
  await git(['branch', '-m', 'main', 'trunk'], src);
  const repo = await createRepo(server, 'trunky');
  const url = pushUrl(server, repo);
  await git(['push', '-q', url, 'trunk'], src);

  // The repo adopts the only branch before the push returns: no window where a clone gets nothing.
  assert.equal((await api(server, 'GET', `/api/repos/${repo.id}`)).body.default_branch, 'trunk');
  const head = await fetch(`${server.url}/git/${repo.id}.git/HEAD`, {
    headers: { authorization: `Basic ${Buffer.from(`x:${server.token}`).toString('base64')}` },
  });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), 'ref: refs/heads/trunk\n');
  const c1 = path.join(dir, 'c1');
  await git(['clone', '-q', url, c1], dir);
  assert.equal(await git(['rev-parse', '--abbrev-ref', 'HEAD'], c1), 'trunk');
  assert.equal(fs.readFileSync(path.join(c1, 'a.txt'), 'utf8'), 'trunk\n');

  await git(['checkout', '-q', '-b', 'release'], src);
  await commitFiles(src, { 'a.txt': 'release\n' }, 'release');
  await git(['push', '-q', url, 'release'], src);
  assert.equal((await api(server, 'GET', `/api/repos/${repo.id}`)).body.default_branch, 'trunk', 'a second branch does not move the default');
  const patched = await api(server, 'PATCH', `/api/repos/${repo.id}`, { default_branch: 'release' });
  assert.equal(patched.status, 200);
  const c2 = path.join(dir, 'c2');
  await git(['clone', '-q', url, c2], dir);
  assert.equal(await git(['rev-parse', '--abbrev-ref', 'HEAD'], c2), 'release');
  assert.equal(fs.readFileSync(path.join(c2, 'a.txt'), 'utf8'), 'release\n');
  const ls = await git(['ls-remote', '--symref', url, 'HEAD'], dir);
  assert.match(ls, /^ref: refs\/heads\/release\tHEAD$/m);
});

test('a forced non-fast-forward push is refused and main is unchanged', async (t) => {
  const { dir, url, bare } = await seeded(t);
  const clone = path.join(dir, 'clone');
  await git(['clone', '-q', url, clone], dir);
  const before = await branchTip(bare, 'main');
  await git(['reset', '-q', '--hard', 'HEAD~1'], clone);
  await commitFiles(clone, { 'rewritten.txt': 'x\n' }, 'rewrite history');
  const r = await tryGit(['push', '--force', 'origin', 'main'], clone);
  assert.notEqual(r.code, 0, 'a forced rewrite of main must be refused');
  assert.match(r.stderr, /non-fast-forward/);
  assert.equal(await branchTip(bare, 'main'), before);
  // Deleting a branch is allowed (receive.denyDeletes=false); deleting main is not special.
  await git(['push', '-q', 'origin', 'HEAD:refs/heads/scratch'], clone);
  await git(['push', '-q', 'origin', ':scratch'], clone);
  assert.equal(await branchTip(bare, 'scratch'), undefined);
});

test("a push larger than git's post buffer (chunked, with a probe request) succeeds and clones back", async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  // ~2.7 MiB of incompressible content: more than http.postBuffer (1 MiB), so git probes first.
  const src = await makeRepo(path.join(dir, 'src'), { 'big.bin': randomText(2 * 1024 * 1024) });
  const repo = await createRepo(server, 'big');
  const push = await tryGit(['push', pushUrl(server, repo), 'main'], src);
  assert.equal(push.code, 0, push.stderr);
  const clone = path.join(dir, 'clone');
  await git(['clone', '-q', pushUrl(server, repo), clone], dir);
  assert.equal(await git(['rev-parse', 'HEAD'], clone), await git(['rev-parse', 'HEAD'], src));
  await assertFsckClean(barePath(server.dataDir, repo.id));
});

test('10 concurrent pushes to one branch: each wins or is refused, none is lost, fsck is clean', async (t) => {
  const { dir, url, bare, src } = await seeded(t);
  const base = await git(['rev-parse', 'HEAD'], src);
  const clones = await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const clone = path.join(dir, `c${i}`);
      await git(['clone', '-q', url, clone], dir);
      const commit = await commitFiles(clone, { [`pusher-${i}.txt`]: randomText(5_000) }, `push ${i}`);
      return { clone, commit };
    }),
  );
  const results = await Promise.all(clones.map(async (c) => ({ ...c, r: await tryGit(['push', 'origin', 'main'], c.clone) })));
  const won = results.filter((x) => x.r.code === 0);
  for (const x of results.filter((y) => y.r.code !== 0)) assert.match(x.r.stderr, /rejected|failed to push|cannot lock|fetch first/, x.r.stderr);
  assert.ok(won.length >= 1, `no push succeeded:\n${results.map((x) => x.r.stderr).join('\n---\n')}`);
  // All started from the same base, so exactly one fast-forward can win.
  assert.equal(won.length, 1, `more than one push of siblings reported success:\n${won.map((x) => x.r.stderr).join('\n---\n')}`);
  const tip = await branchTip(bare, 'main');
  assert.equal(tip, won[0]!.commit);
  assert.equal(await git(['rev-parse', `${tip}~1`], bare), base);
  await assertFsckClean(bare);

  // A loser that rebases onto the winner and pushes again gets in, on top of the winner's work.
  const loser = results.find((y) => y.r.code !== 0)!;
  await git(['pull', '-q', '--rebase', 'origin', 'main'], loser.clone);
  await git(['push', '-q', 'origin', 'main'], loser.clone);
  assert.equal(await git(['rev-parse', 'main~1'], bare), won[0]!.commit);
  assert.equal(await git(['rev-list', '--count', 'main'], bare), '5');
  await assertFsckClean(bare);
});
