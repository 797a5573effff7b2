import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { assertCliFailure, cli, startTestServer, tempDir } from './helpers.js';
import { registerRunner } from './queue-helpers.js';

test('lazyaf runners lists shell and then the agents of every runner, as the web UI does', async (t) => {
  const server = await startTestServer(t);
  await registerRunner(server, 'plain');
  await registerRunner(server, 'agents', ['gpu'], ['claude', 'codex']);
  const r = await cli(['runners'], { server });
  assert.equal(r.code, 0, r.stderr);
  // NAME STATUS JOB SANDBOX AGENTS LABELS
  assert.match(r.stdout, /^plain\s+\S+\s+-\s+\S+\s+shell\s+-\s/m);
  assert.match(r.stdout, /^agents\s+\S+\s+-\s+\S+\s+shell,claude,codex\s+gpu\s/m);
});

test('an unauthorized answer says where the token came from, or which file was tried', async (t) => {
  const server = await startTestServer(t);
  const data = tempDir(t);
  const file = path.join(data, 'admin_token');
  const list = (env: NodeJS.ProcessEnv, args: string[] = []) =>
    cli(['list', ...args], { env: { LAZYAF_SERVER: server.url, LAZYAF_TOKEN: '', LAZYAF_DATA: data, ...env } });
  const quoted = file.replace(/[.]/g, '\\.');

  assertCliFailure(
    await list({}),
    new RegExp(
      `^lazyaf: unauthorized: missing bearer token .* — no token was sent \\(no --token, no LAZYAF_TOKEN, and ${quoted}: no such file\\); pass --token or set LAZYAF_TOKEN .*LAZYAF_DATA`,
    ),
    'no token anywhere',
  );
  assertCliFailure(
    await list({ LAZYAF_TOKEN: 'wrong' }),
    /^lazyaf: unauthorized: invalid token — the token from LAZYAF_TOKEN was refused/,
    'a wrong LAZYAF_TOKEN',
  );
  assertCliFailure(await list({}, ['--token', 'wrong']), /^lazyaf: unauthorized: invalid token — the token from --token was refused/, 'a wrong --token');
  fs.writeFileSync(file, 'lzadm_another_servers_token\n');
  assertCliFailure(
    await list({}),
    new RegExp(`^lazyaf: unauthorized: invalid token — the token read from ${quoted} was refused .*set LAZYAF_DATA to its data dir$`),
    "another server's token file",
  );
  fs.writeFileSync(file, `${server.token}\n`);
  assert.equal((await list({})).code, 0, 'the right file is all it takes');
});
