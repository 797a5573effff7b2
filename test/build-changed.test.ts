import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT, run, tempDir } from './helpers.js';

const SCRIPT = path.join(ROOT, 'scripts', 'build.js');
const INPUTS = ['src/cli/main.ts', 'src/server/app.ts', 'src/shared/api.ts', 'src/web/index.html', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];
const OUTPUTS = ['dist/cli/main.js', 'dist/bundle/runner.mjs', 'dist/web/index.html'];
const STAMPS = ['dist/.built/node', 'dist/.built/bundle', 'dist/.built/web'];

/** A tree laid out like this one, its inputs an hour older than its last build's stamps. */
function builtTree(root: string): void {
  const hourAgo = new Date(Date.now() - 3600_000);
  const built = new Date(Date.now() - 60_000);
  for (const file of [...INPUTS, ...OUTPUTS, ...STAMPS]) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), '');
  }
  const age = (p: string, when: Date) => {
    fs.utimesSync(p, when, when);
    if (fs.statSync(p).isDirectory()) for (const entry of fs.readdirSync(p)) if (entry !== 'dist') age(path.join(p, entry), when);
  };
  age(root, hourAgo);
  for (const stamp of STAMPS) fs.utimesSync(path.join(root, stamp), built, built);
}

async function wouldBuild(root: string): Promise<string[]> {
  const r = await run(process.execPath, [SCRIPT, '--changed', '--dry-run'], { cwd: root });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

test('npm start builds only the parts of dist/ whose inputs changed since their last build', async (t) => {
  const root = tempDir(t);
  builtTree(root);
  assert.deepEqual(await wouldBuild(root), [], 'nothing changed: nothing to build');

  fs.writeFileSync(path.join(root, 'src/web/index.html'), '<!-- edited -->');
  assert.deepEqual(await wouldBuild(root), ['web'], 'a change to the UI builds the UI alone');

  builtTree(root);
  fs.writeFileSync(path.join(root, 'src/shared/api.ts'), '// edited');
  assert.deepEqual(await wouldBuild(root), ['node', 'bundle', 'web'], 'shared/ feeds all three');

  builtTree(root);
  fs.rmSync(path.join(root, 'src/server/app.ts'));
  assert.deepEqual(await wouldBuild(root), ['node', 'bundle'], 'a removed file counts, by its folder');

  builtTree(root);
  fs.rmSync(path.join(root, 'dist/bundle/runner.mjs'));
  fs.rmSync(path.join(root, 'dist/.built/web'));
  assert.deepEqual(await wouldBuild(root), ['bundle', 'web'], 'a part without its output or its stamp');

  const all = await run(process.execPath, [SCRIPT, '--dry-run'], { cwd: root });
  assert.deepEqual(all.stdout.split('\n').filter(Boolean), ['node', 'bundle', 'web'], 'npm run build builds everything');
});
