import assert from 'node:assert/strict';
import test from 'node:test';
import { isAllowedRemoteUrl } from '../src/shared/remote-url.js';

// Each bad URL is one that could smuggle an option into ssh or hide its real host from the check.
const bad = [
  'ssh://[-oProxyCommand=touch%20/tmp/pwned]/x',
  'ssh://%2doProxyCommand=touch%20/tmp/pwned/x',
  'ssh://host:-oProxyCommand=x/x',
  'ssh://-oProxyCommand=x/repo.git',
  'ssh://git@-oProxyCommand=x/repo.git',
  'ssh://-user@host/repo.git',
  'ssh://%2duser@host/repo.git',
  'ssh://a@b@host/repo.git',
  'ssh://[example.test]/x',
  'ssh://[fe80::1%25eth0]/x',
  'ssh://ho%73t/x',
  'http://ho%73t/x',
  'https://%2dhost/x',
  'ssh://host:22x/x',
  'git://host:99999/x',
  'ssh:///x',
  'ssh://.host/x',
  'ssh://host..name/x',
  'file://otherhost/srv/x.git',
  'https://github.com\\@evil.test/x',
  'https://example.test/a b',
  'https://example.test/a\nb',
  'https://exa\u202emple.test/x',
  'HTTPS://example.test/x',
  'ext::sh -c touch% /tmp/pwned',
  'fd::17',
  '-oProxyCommand=x',
  '--upload-pack=x',
  'relative/path',
  '-host:path',
  'git@-host:path',
  '-user@host:path',
  'user@ho%73t:path',
  'user@[-oProxyCommand=x]:path',
  'user@host:',
  'x'.repeat(3000),
];

const good = [
  'https://github.com/o/r.git',
  'http://127.0.0.1:8080/r.git',
  'https://x-access-token:p%40ss:w@github.com/o/r.git',
  'https://deploy@git.example.test/r.git',
  'ssh://git@example.test/r.git',
  'ssh://git@example.test:2222/r.git',
  'ssh://[::1]/r.git',
  'ssh://git@[2001:db8::1]:22/r.git',
  'ssh://git_host.internal/r.git',
  'git://example.test/r.git',
  'file:///abs/path.git',
  'file://localhost/abs/path.git',
  'git@github.com:o/r.git',
  'github.com:o/r.git',
  'git@[::1]:r.git',
  '/abs/path.git',
];

test('remote URLs: option-like and disguised hosts, users and ports are refused', () => {
  for (const url of bad) assert.equal(isAllowedRemoteUrl(url), false, `${JSON.stringify(url)} must be refused`);
});

test('remote URLs: ordinary https, ssh, git, file, scp-like and path remotes pass', () => {
  for (const url of good) assert.equal(isAllowedRemoteUrl(url), true, `${JSON.stringify(url)} must pass`);
});
