import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers.js';

test("runner.ts's header lists every module of src/runner, and only those", () => {
  const dir = path.join(ROOT, 'src', 'runner');
  const source = fs.readFileSync(path.join(dir, 'runner.ts'), 'utf8');
  const header = source.slice(0, source.indexOf('*/'));
  const listed = [...header.matchAll(/^ \* {3}([a-z0-9-]+\.(?:d\.)?ts) /gm)].map((m) => m[1]!);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ts'));
  assert.deepEqual(
    files.filter((f) => !listed.includes(f)),
    [],
    'a module the header does not list',
  );
  assert.deepEqual(
    listed.filter((f) => !files.includes(f)),
    [],
    'a listed module that is not there',
  );
  assert.equal(new Set(listed).size, listed.length, 'a module listed twice');
});
