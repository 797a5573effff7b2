// What of an agent's HOME goes back to the runner's after a job: only a login file the runner gave
// it, changed, a regular file under the cap, a JSON object with the keys it had. Never a link, a
// new file, or anything else.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { codexAdapter } from '../src/shared/agents/codex.js';
import { loginSnapshot, MAX_LOGIN_BYTES, writeBackLogins } from '../src/runner/login-files.js';
import { tempDir } from './helpers.js';

const AUTH = '.codex/auth.json';

function write(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

test('login files: a refreshed one goes back; a link, non-JSON, other keys, a huge file or a login the runner never had do not', (t) => {
  const dir = tempDir(t);
  const runnerHome = path.join(dir, 'runner');
  const original = JSON.stringify({ tokens: { access_token: 'old' }, last_refresh: '2026-01-01' });
  const cases: [string, (home: string) => void, boolean][] = [
    ['refreshed', (home) => write(path.join(home, AUTH), JSON.stringify({ last_refresh: '2026-02-02', tokens: { access_token: 'new' } })), true],
    ['unchanged', () => {}, false],
    ['a link to /etc/passwd', (home) => (fs.rmSync(path.join(home, AUTH)), fs.symlinkSync('/etc/passwd', path.join(home, AUTH))), false],
    ['not JSON', (home) => write(path.join(home, AUTH), 'not json'), false],
    ['other keys', (home) => write(path.join(home, AUTH), JSON.stringify({ tokens: {}, hooks: 'x' })), false],
    ['an array', (home) => write(path.join(home, AUTH), '[]'), false],
    ['huge', (home) => write(path.join(home, AUTH), JSON.stringify({ tokens: 'x'.repeat(MAX_LOGIN_BYTES), last_refresh: '' })), false],
    [
      'its folder a link',
      (home) => (fs.rmSync(path.join(home, '.codex'), { recursive: true }), fs.symlinkSync(path.join(dir, 'elsewhere'), path.join(home, '.codex'))),
      false,
    ],
  ];
  for (const [what, change, goesBack] of cases) {
    write(path.join(runnerHome, AUTH), original);
    write(path.join(dir, 'elsewhere', 'auth.json'), JSON.stringify({ tokens: { access_token: 'planted' }, last_refresh: '' }));
    const home = tempDir(t, 'lazyaf-job-home-');
    write(path.join(home, AUTH), original);
    const before = loginSnapshot(codexAdapter, home);
    change(home);
    write(path.join(home, '.codex', 'config.toml'), 'notify = ["sh", "-c", "touch /tmp/planted"]');
    const said: string[] = [];
    writeBackLogins(codexAdapter, home, runnerHome, before, (l) => said.push(l));
    const now = fs.readFileSync(path.join(runnerHome, AUTH), 'utf8');
    assert.equal(now !== original, goesBack, `${what}: ${said.join('; ')}`);
    assert.deepEqual(fs.readdirSync(path.join(runnerHome, '.codex')), ['auth.json'], `${what}: nothing else goes back`);
  }

  // A login the runner never had is not created by a job.
  const fresh = path.join(dir, 'fresh-runner');
  const home = tempDir(t, 'lazyaf-job-home-');
  const before = loginSnapshot(codexAdapter, home);
  write(path.join(home, AUTH), original);
  writeBackLogins(codexAdapter, home, fresh, before, () => {});
  assert.ok(!fs.existsSync(fresh));
});
