// An agent's session files as the runner packs and restores them: only regular files under the
// job's HOME go out, never through a link; a hostile archive (links, devices, `..`, absolute
// names, more than the caps, not a tarball) is refused whole and writes nothing outside its folder.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { packSession, placeSession, SessionArchiveError, unpackSession, type SessionLimits } from '../src/runner/session-files.js';
import { tempDir } from './helpers.js';
import { tarball } from './session-helpers.js';

function write(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

test('session files: packed from one workspace path, restored at another; links and pipes in HOME stay behind', async (t) => {
  const dir = tempDir(t);
  const home = path.join(dir, 'home');
  write(path.join(home, '.agent/projects/-work-a/s1.jsonl'), '{"a":1}\n');
  write(path.join(home, '.agent/projects/-work-a/s1/tool.txt'), 'result');
  write(path.join(home, '.agent/sessions/2026/rollout.jsonl'), '{"b":2}\n');
  fs.symlinkSync('/etc/passwd', path.join(home, '.agent/projects/-work-a/s1/passwd'));
  fs.symlinkSync('/etc', path.join(home, '.agent/sessions/etc'));

  const packed = await packSession(home, ['.agent/projects/-work-a/s1.jsonl', '.agent/projects/-work-a/s1', '.agent/sessions', '.agent/missing']);
  assert.ok('archive' in packed, JSON.stringify(packed));
  assert.equal(packed.files, 3, 'the three regular files, not the links');

  const other = path.join(dir, 'other');
  fs.mkdirSync(other);
  await unpackSession(packed.archive, path.join(dir, 'staging'), 4);
  placeSession(path.join(dir, 'staging'), other, ['.agent/projects/-srv-b/s1.jsonl', '.agent/projects/-srv-b/s1', '.agent/sessions', '.agent/missing']);
  assert.equal(fs.readFileSync(path.join(other, '.agent/projects/-srv-b/s1.jsonl'), 'utf8'), '{"a":1}\n');
  assert.equal(fs.readFileSync(path.join(other, '.agent/projects/-srv-b/s1/tool.txt'), 'utf8'), 'result');
  assert.equal(fs.readFileSync(path.join(other, '.agent/sessions/2026/rollout.jsonl'), 'utf8'), '{"b":2}\n');
  assert.ok(!fs.existsSync(path.join(other, '.agent/projects/-srv-b/s1/passwd')));
  assert.ok(!fs.existsSync(path.join(other, '.agent/sessions/etc')));

  // A session path reached through a link is not packed at all.
  const linked = path.join(dir, 'linked');
  fs.mkdirSync(linked);
  fs.symlinkSync(path.join(home, '.agent'), path.join(linked, '.agent'));
  assert.deepEqual(await packSession(linked, ['.agent/sessions']), { skipped: 'the agent left no session files' });

  // More than the cap: not packed, and said why.
  const small: SessionLimits = { compressedBytes: 64, bytes: 1 << 20, files: 10 };
  write(path.join(home, 'big/noise.bin'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)).toString('latin1'));
  const big = await packSession(home, ['big'], small);
  assert.ok('skipped' in big && /more than 0\.0 MiB compressed/.test(big.skipped), JSON.stringify(big));
});

test('session files: a hostile archive is refused whole and writes nothing outside its folder', async (t) => {
  const dir = tempDir(t);
  const cases: [string, Buffer][] = [
    ['a link to /etc/passwd', await tarball([{ name: '0/passwd', type: 'symlink', linkname: '/etc/passwd' }])],
    [
      'a hard link',
      await tarball([
        { name: '0/a', content: 'x' },
        { name: '0/b', type: 'link', linkname: '0/a' },
      ]),
    ],
    ['a device', await tarball([{ name: '0/null', type: 'character-device' }])],
    ['a fifo', await tarball([{ name: '0/pipe', type: 'fifo' }])],
    ['../', await tarball([{ name: '0/../../escaped', content: 'x' }])],
    ['an absolute name', await tarball([{ name: '/tmp/escaped', content: 'x' }])],
    ['a slot the adapter does not have', await tarball([{ name: '7/x', content: 'x' }])],
    [
      'a name given twice',
      await tarball([
        { name: '0/a', content: 'one' },
        { name: '0/a', content: 'two' },
      ]),
    ],
    [
      'a file where a folder was',
      await tarball([
        { name: '0/a', content: 'x' },
        { name: '0/a/b', content: 'y' },
      ]),
    ],
    ['not gzip', Buffer.from('hello')],
  ];
  for (const [what, archive] of cases) {
    const staging = path.join(dir, `staging-${cases.findIndex((c) => c[0] === what)}`);
    await assert.rejects(unpackSession(archive, staging, 2), SessionArchiveError, what);
  }
  assert.ok(!fs.existsSync(path.join(dir, 'escaped')) && !fs.existsSync('/tmp/escaped'), 'nothing escaped');

  // A huge file (a zip bomb: little to upload, much to write) is refused at the cap, before it is written whole.
  const limits: SessionLimits = { compressedBytes: 1 << 20, bytes: 1 << 20, files: 10 };
  const bomb = await tarball([{ name: '0/huge', content: '\0'.repeat(8 << 20) }]);
  assert.ok(bomb.length < 64 * 1024, `the bomb is ${bomb.length} bytes`);
  await assert.rejects(unpackSession(bomb, path.join(dir, 'bomb'), 1, limits), /more than 1\.0 MiB/);
  const many = await tarball(Array.from({ length: 12 }, (_, i) => ({ name: `0/f${i}`, content: 'x' })));
  await assert.rejects(unpackSession(many, path.join(dir, 'many'), 1, limits), /more than 10 files/);

  // A link planted where the session goes in HOME is not followed: the restore stops.
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  fs.symlinkSync('/etc', path.join(home, '.agent'));
  await unpackSession(await tarball([{ name: '0/x', content: 'x' }]), path.join(dir, 'ok'), 1);
  assert.throws(() => placeSession(path.join(dir, 'ok'), home, ['.agent/sessions']), SessionArchiveError);
  assert.ok(!fs.existsSync('/etc/sessions'));
});
