import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers.js';

// npm's own range rules (semver, which npm and prebuild-install use), not a copy of them.
const semver = createRequire(import.meta.url)('semver') as {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
};

interface Lock {
  packages: Record<string, { version?: string; engines?: { node?: string } }>;
}

test("every package the lock installs runs on the oldest Node that package.json's engines accept, so npm install does not warn EBADENGINE", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  const oldest = semver.minVersion(pkg.engines.node)!.version;
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as Lock;
  const refusing = Object.entries(lock.packages)
    .filter(([, p]) => p.engines?.node !== undefined && !semver.satisfies(oldest, p.engines.node))
    .map(([where, p]) => `${where}@${p.version}: node ${p.engines!.node}`);
  assert.deepEqual(refusing, [], `packages that refuse Node ${oldest}`);
});
