// CI, after `npm ci`: keeps the better-sqlite3 binary that npm ci compiled where prebuild-install
// looks for a local prebuild ($npm_config_better_sqlite3_local_prebuilds), under the name it
// looks for (its own functions make the name: package version, Node ABI, platform, libc, arch).
// The next `npm ci` on this machine unpacks it instead of compiling SQLite, 47 s of the 54 s that
// npm ci takes here, where the prebuilt binaries cannot be downloaded.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';

const dir = process.env.npm_config_better_sqlite3_local_prebuilds;
if (!dir) {
  process.stderr.write('ci-keep-prebuild: set npm_config_better_sqlite3_local_prebuilds to the folder to keep it in\n');
  process.exit(2);
}
const pkgFile = createRequire(import.meta.url).resolve('better-sqlite3/package.json');
const fromPackage = createRequire(pkgFile);
const pkg = fromPackage('./package.json');
const opts = { ...fromPackage('prebuild-install/rc')(pkg), pkg };
const file = path.join(dir, path.basename(fromPackage('prebuild-install/util').getDownloadUrl(opts)));
if (fs.existsSync(file)) {
  process.stdout.write(`ci-keep-prebuild: ${file} (kept earlier)\n`);
  process.exit(0);
}
// Only a binary that works: a database opens and answers.
const Database = fromPackage('./');
if (new Database(':memory:').prepare('select 1 + 1 as two').get().two !== 2) throw new Error('better-sqlite3 does not answer');
fs.mkdirSync(dir, { recursive: true });
const partial = `${file}.${process.pid}.tmp`;
const tar = spawnSync('tar', ['-czf', partial, '-C', path.dirname(pkgFile), 'build/Release/better_sqlite3.node'], { stdio: 'inherit' });
if (tar.status !== 0) {
  fs.rmSync(partial, { force: true });
  process.exit(tar.status ?? 1);
}
fs.renameSync(partial, file);
process.stdout.write(`ci-keep-prebuild: ${file} (kept for the next npm ci)\n`);
