import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  cacheKey,
  CachePathError,
  checkedPaths,
  returnCopies,
  ENV_CACHE_KEEP,
  envCacheRoot,
  envCacheSettled,
  envCacheTrash,
  restoreCache,
  saveCache,
} from '../src/runner/env-cache.js';
import { tempDir } from './helpers.js';

// The runner's cache of what setup leaves: keys, copies in and out, and the paths a hostile
// `.lazyaf.yml` (or a hostile checkout) may name.

function checkoutWith(root: string, files: Record<string, string>): string {
  const dir = path.join(root, 'work', 'repo');
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

test('cache paths must be relative, inside the checkout and not its .git; a path inside another is left to the outer one', () => {
  for (const bad of ['../x', 'a/../../x', '/etc', '.', './', '.git', '.git/hooks', 'a/..', ''])
    assert.throws(() => checkedPaths([bad]), CachePathError, JSON.stringify(bad));
  assert.deepEqual(checkedPaths(['node_modules/', './a/b', 'a', 'a/b/c', 'sub/node_modules']), ['node_modules', 'a', 'sub/node_modules']);
});

test('the key covers the setup, the paths and the key files; a missing key file counts as missing; one that leads out of the checkout is refused', async (t) => {
  const root = tempDir(t);
  const dir = checkoutWith(root, { 'package-lock.json': '{"v":1}' });
  const key = () => cacheKey(dir, ['npm ci'], ['node_modules'], ['package-lock.json', 'other.lock']);
  const k1 = await key();
  assert.match(k1, /^[0-9a-f]{64}$/);
  assert.equal(await key(), k1, 'the same inputs, the same key');
  assert.notEqual(await cacheKey(dir, ['npm install'], ['node_modules'], ['package-lock.json', 'other.lock']), k1);
  assert.notEqual(await cacheKey(dir, ['npm ci'], ['node_modules', '.venv'], ['package-lock.json', 'other.lock']), k1);
  fs.writeFileSync(path.join(dir, 'other.lock'), '');
  assert.notEqual(await key(), k1, 'an empty key file is not a missing one');
  fs.rmSync(path.join(dir, 'other.lock'));
  fs.writeFileSync(path.join(dir, 'package-lock.json'), '{"v":2}');
  assert.notEqual(await key(), k1);

  const secret = path.join(root, 'runner-secret.txt');
  fs.writeFileSync(secret, 'the runner holds this');
  fs.symlinkSync(secret, path.join(dir, 'other.lock'));
  await assert.rejects(key(), /cache key file "other\.lock" leads out of the checkout/);
  fs.rmSync(path.join(dir, 'other.lock'));
  fs.mkdirSync(path.join(dir, 'other.lock'));
  await assert.rejects(key(), /not a regular file/);
  fs.rmdirSync(path.join(dir, 'other.lock'));
  fs.symlinkSync('/dev/zero', path.join(dir, 'other.lock'));
  await assert.rejects(key(), CachePathError, 'a device outside is refused before it is read');
  fs.rmSync(path.join(dir, 'other.lock'));
  fs.symlinkSync(root, path.join(dir, 'up'));
  await assert.rejects(cacheKey(dir, ['npm ci'], ['node_modules'], ['up/nothing-here']), /leads out of the checkout/, 'nor whether a file exists there');
});

test('a restore is a copy: writing into what was restored leaves the cache as it was', async (t) => {
  const root = tempDir(t);
  const workdir = path.join(root, 'runner');
  t.after(() => envCacheSettled(workdir));
  const dir = checkoutWith(root, { 'node_modules/pkg/index.js': 'original\n', 'node_modules/.bin/.keep': '' });
  fs.symlinkSync('../pkg/index.js', path.join(dir, 'node_modules', '.bin', 'pkg'));
  const key = 'a'.repeat(64);
  await saveCache(workdir, 'repo1', key, dir, ['node_modules']);
  fs.rmSync(path.join(dir, 'node_modules'), { recursive: true });

  assert.equal(await restoreCache(workdir, 'repo1', key, dir), true);
  const restored = path.join(dir, 'node_modules', 'pkg', 'index.js');
  assert.equal(fs.readFileSync(restored, 'utf8'), 'original\n');
  assert.equal(fs.statSync(restored).nlink, 1, 'not a hard link');
  assert.equal(fs.readlinkSync(path.join(dir, 'node_modules', '.bin', 'pkg')), '../pkg/index.js', 'links stay links');
  fs.writeFileSync(restored, 'poisoned\n');
  fs.rmSync(path.join(dir, 'node_modules'), { recursive: true });
  assert.equal(await restoreCache(workdir, 'repo1', key, dir), true);
  assert.equal(fs.readFileSync(restored, 'utf8'), 'original\n');
  assert.equal(await restoreCache(workdir, 'repo1', 'b'.repeat(64), dir), false, 'another key: nothing held');
  assert.equal(await restoreCache(workdir, 'repo2', key, dir), false, 'another repo: nothing held');
});

test('a job is handed a spare copy by rename; a copy that comes back as it was handed over is the next spare, one changed in any way is not', async (t) => {
  const root = tempDir(t);
  const workdir = path.join(root, 'runner');
  t.after(() => envCacheSettled(workdir));
  const dir = checkoutWith(root, { 'node_modules/pkg/index.js': 'original\n', 'sub/node_modules/x.js': 'x\n' });
  const paths = ['node_modules', 'sub/node_modules'];
  const key = 'c'.repeat(64);
  const entry = path.join(envCacheRoot(workdir, 'repo1'), key);
  const spareFile = path.join(entry, 'spare', 'node_modules', 'pkg', 'index.js');
  const restored = path.join(dir, 'node_modules', 'pkg', 'index.js');
  const giveBack = async () => {
    returnCopies(workdir, dir, paths);
    assert.ok(!fs.existsSync(path.join(dir, 'node_modules')), 'out of the checkout at once');
    await envCacheSettled(workdir);
  };
  await saveCache(workdir, 'repo1', key, dir, paths);
  const first = fs.statSync(restored).ino;
  await envCacheSettled(workdir);
  assert.ok(!fs.existsSync(path.join(entry, 'spare')), "setup's own copy is the first one handed out: no spare is copied");
  await giveBack();
  assert.equal(fs.statSync(spareFile).ino, first, "setup's copy came back untouched: it is the spare");
  assert.notEqual(first, fs.statSync(path.join(entry, 'files', 'node_modules', 'pkg', 'index.js')).ino, 'the spare is a copy of the cache');
  fs.mkdirSync(path.join(dir, 'sub', 'node_modules'));
  fs.writeFileSync(path.join(dir, 'sub', 'node_modules', 'x.js'), "the checkout's own\n");

  const restore = async () => {
    assert.equal(await restoreCache(workdir, 'repo1', key, dir), true);
    return fs.statSync(restored).ino;
  };

  assert.equal(await restore(), first, 'the spare was moved in, not copied');
  assert.equal(fs.readFileSync(path.join(dir, 'sub', 'node_modules', 'x.js'), 'utf8'), 'x\n', 'a nested path too, replacing what was there');
  await envCacheSettled(workdir);
  assert.ok(!fs.existsSync(path.join(entry, 'spare')), 'no new copy while the one handed out may come back');
  await giveBack();
  assert.equal(fs.statSync(spareFile).ino, first, 'untouched: the same copy is the spare again');
  assert.deepEqual(fs.readdirSync(entry).sort(), ['files', 'paths.json', 'spare']);

  // Written into: the copy goes, a new spare is made from the cache.
  assert.equal(await restore(), first);
  fs.writeFileSync(restored, 'poisoned\n');
  await giveBack();
  assert.notEqual(fs.statSync(spareFile).ino, first);
  assert.equal(fs.readFileSync(spareFile, 'utf8'), 'original\n');

  // After a changed copy, the next spare is made while the job runs; a copy back unchanged then goes.
  const second = await restore();
  await envCacheSettled(workdir);
  assert.notEqual(fs.statSync(spareFile).ino, second, 'made eagerly');
  await giveBack();
  assert.notEqual(fs.statSync(spareFile).ino, second);
  assert.deepEqual(fs.readdirSync(entry).sort(), ['files', 'paths.json', 'spare']);
  // Unchanged again: back to making no copy while one is out.
  const third = await restore();
  await envCacheSettled(workdir);
  assert.ok(!fs.existsSync(path.join(entry, 'spare')));
  await giveBack();
  assert.equal(fs.statSync(spareFile).ino, third);

  // Changes that keep size and times, or add a link to a file: each is a change.
  const tampers: [string, () => void][] = [
    [
      'same size, times set back',
      () => {
        const before = fs.statSync(restored);
        fs.writeFileSync(restored, 'tampered\n');
        fs.utimesSync(restored, before.atime, before.mtime);
      },
    ],
    ['a hard link elsewhere', () => fs.linkSync(restored, path.join(dir, 'kept-link.js'))],
    ['a mode', () => fs.chmodSync(restored, 0o600)],
    ['a file added', () => fs.writeFileSync(path.join(dir, 'node_modules', 'pkg', 'new.js'), '')],
    ['a file removed from a nested path', () => fs.rmSync(path.join(dir, 'sub', 'node_modules', 'x.js'))],
  ];
  for (const [what, tamper] of tampers) {
    const handed = await restore();
    tamper();
    await giveBack();
    assert.notEqual(fs.statSync(spareFile).ino, handed, what);
    assert.equal(fs.readFileSync(spareFile, 'utf8'), 'original\n', what);
    assert.equal(fs.readFileSync(path.join(entry, 'spare', 'sub', 'node_modules', 'x.js'), 'utf8'), 'x\n', what);
    fs.rmSync(path.join(dir, 'kept-link.js'), { force: true });
  }

  // A spare left half-made by a runner that stopped is removed; with no spare, a restore copies.
  fs.rmSync(path.join(entry, 'spare'), { recursive: true });
  fs.mkdirSync(path.join(entry, '.spare-tmp-0123456789ab', 'node_modules'), { recursive: true });
  await restore();
  assert.equal(fs.readFileSync(restored, 'utf8'), 'original\n');
  await envCacheSettled(workdir);
  assert.deepEqual(fs.readdirSync(entry).sort(), ['files', 'paths.json', 'spare']);
});

test('after a job its copies leave the checkout at once and are removed in the background; nothing is moved from outside the checkout', async (t) => {
  const root = tempDir(t);
  const workdir = path.join(root, 'runner');
  t.after(() => envCacheSettled(workdir));
  const outside = path.join(root, 'outside');
  fs.mkdirSync(path.join(outside, 'node_modules'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'node_modules', 'keep.js'), "not the job's\n");
  const dir = checkoutWith(root, { 'node_modules/pkg/index.js': 'x\n', 'README.md': 'r\n' });
  // The job made `linked` a link out of the checkout: `linked/node_modules` is not moved.
  fs.symlinkSync(outside, path.join(dir, 'linked'));

  returnCopies(workdir, dir, ['node_modules', '../outside/node_modules']);
  assert.ok(fs.existsSync(path.join(dir, 'node_modules')), 'paths the job was refused for: nothing moved');
  returnCopies(workdir, dir, ['node_modules', 'linked/node_modules', 'absent']);
  assert.ok(!fs.existsSync(path.join(dir, 'node_modules')), 'moved out at once');
  assert.equal(fs.readFileSync(path.join(dir, 'README.md'), 'utf8'), 'r\n');
  await envCacheSettled(workdir);
  assert.deepEqual(fs.readdirSync(envCacheTrash(workdir)), [], 'removed');
  assert.equal(fs.readFileSync(path.join(outside, 'node_modules', 'keep.js'), 'utf8'), "not the job's\n");
  returnCopies(workdir, path.join(root, 'no-such-checkout'), ['node_modules']);
});

test('a cache path that leads out of the checkout is never copied, either way', async (t) => {
  const root = tempDir(t);
  const workdir = path.join(root, 'runner');
  t.after(() => envCacheSettled(workdir));
  const outside = path.join(root, 'outside');
  fs.mkdirSync(path.join(outside, 'b'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'b', 'private.txt'), "not the job's");
  const dir = checkoutWith(root, { 'README.md': '# x\n' });

  // Saving: the path itself, or a folder above it, is a link out.
  fs.symlinkSync(outside, path.join(dir, 'node_modules'));
  await assert.rejects(saveCache(workdir, 'repo1', 'c'.repeat(64), dir, ['node_modules']), /leads out of the checkout/);
  fs.symlinkSync(outside, path.join(dir, 'a'));
  await assert.rejects(saveCache(workdir, 'repo1', 'c'.repeat(64), dir, ['a/b']), /leads out of the checkout/);
  assert.deepEqual(fs.readdirSync(envCacheRoot(workdir, 'repo1')), [], 'nothing kept, no temporary left');

  // Restoring: a checkout whose folder above a cache path is a link out (committed by the job's
  // branch) must not have the runner write through it.
  fs.rmSync(path.join(dir, 'node_modules'));
  fs.rmSync(path.join(dir, 'a'));
  fs.mkdirSync(path.join(dir, 'a', 'b'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'a', 'b', 'dep.js'), 'dep\n');
  const key = 'd'.repeat(64);
  await saveCache(workdir, 'repo1', key, dir, ['a/b']);
  fs.rmSync(path.join(dir, 'a'), { recursive: true });
  fs.symlinkSync(outside, path.join(dir, 'a'));
  await assert.rejects(restoreCache(workdir, 'repo1', key, dir), /"a" is not a folder/);
  assert.deepEqual(fs.readdirSync(path.join(outside, 'b')), ['private.txt'], 'nothing written outside');

  // A link at the cache path itself is replaced, not followed.
  fs.rmSync(path.join(dir, 'a'));
  fs.mkdirSync(path.join(dir, 'a', 'b'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'a', 'b', 'dep.js'), 'dep\n');
  await saveCache(workdir, 'repo1', key, dir, ['a/b']);
  fs.rmSync(path.join(dir, 'a', 'b'), { recursive: true });
  fs.symlinkSync(outside, path.join(dir, 'a', 'b'));
  assert.equal(await restoreCache(workdir, 'repo1', key, dir), true);
  assert.ok(fs.lstatSync(path.join(dir, 'a', 'b')).isDirectory());
  assert.deepEqual(fs.readdirSync(outside).sort(), ['b']);
  assert.deepEqual(fs.readdirSync(path.join(outside, 'b')), ['private.txt']);
});

test(`a runner keeps at most ${ENV_CACHE_KEEP} keys per repo, the least recently used going first`, async (t) => {
  const root = tempDir(t);
  const workdir = path.join(root, 'runner');
  t.after(() => envCacheSettled(workdir));
  const dir = checkoutWith(root, { 'node_modules/x.js': 'x\n' });
  const keys = ['1', '2', '3', '4'].map((c) => c.repeat(64));
  for (const [i, key] of keys.entries()) {
    await saveCache(workdir, 'repo1', key, dir, ['node_modules']);
    const at = new Date(Date.now() - (10 - i) * 60_000);
    fs.utimesSync(path.join(envCacheRoot(workdir, 'repo1'), key), at, at);
    // The first key is used again before the fourth is saved: it stays.
    if (i === 2) assert.equal(await restoreCache(workdir, 'repo1', keys[0]!, dir), true);
  }
  const kept = fs.readdirSync(envCacheRoot(workdir, 'repo1')).sort();
  assert.equal(kept.length, ENV_CACHE_KEEP);
  assert.ok(!kept.includes(keys[1]!), `the least recently used went: ${kept.join(' ')}`);
});
