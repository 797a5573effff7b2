import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT, tempDir } from './helpers.js';

const require = createRequire(import.meta.url);

test('CI keeps the compiled better-sqlite3 where prebuild-install finds it as a local prebuild: an install unpacks that binary, without compiling or downloading', (t) => {
  const prebuilds = tempDir(t);
  const env = { ...process.env, npm_config_better_sqlite3_local_prebuilds: prebuilds };
  const keep = () => spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'ci-keep-prebuild.js')], { cwd: ROOT, env, encoding: 'utf8' });
  const first = keep();
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /kept for the next npm ci/);
  assert.match(keep().stdout, /kept earlier/, 'a second run leaves the kept one as it is');
  const kept = fs.readdirSync(prebuilds);
  assert.equal(kept.length, 1, kept.join(', '));

  // What better-sqlite3's install script runs first, in a package of the same name and version.
  const pkgFile = require.resolve('better-sqlite3/package.json');
  const pkg = tempDir(t);
  fs.copyFileSync(pkgFile, path.join(pkg, 'package.json'));
  const install = spawnSync(process.execPath, [createRequire(pkgFile).resolve('prebuild-install/bin.js')], {
    cwd: pkg,
    env: { ...env, npm_config_cache: tempDir(t), https_proxy: 'http://127.0.0.1:9', HTTPS_PROXY: 'http://127.0.0.1:9' },
    encoding: 'utf8',
  });
  assert.equal(install.status, 0, install.stderr);
  const binary = (dir: string) => fs.readFileSync(path.join(dir, 'build', 'Release', 'better_sqlite3.node'));
  assert.ok(binary(pkg).equals(binary(path.dirname(pkgFile))), 'the unpacked binary is the one that was kept');
});
