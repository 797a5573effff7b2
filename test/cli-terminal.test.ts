import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { RunnerRoutes } from '../src/shared/protocol.js';
import { api, authUrl, cli, git, startTestServer, tempDir } from './helpers.js';
import { poll, registerRunner, seedRepo, submit } from './queue-helpers.js';

/** Anything a terminal would act on: C0 controls but newline, DEL, C1 controls, bidi overrides. */
const ACTS_ON_TERMINAL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
const SGR = /\x1b\[[0-9;]*m/g;

test('the CLI shows titles, runner errors, branch names and logs from the server without letting them drive the terminal', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  await git(['push', '-q', authUrl(repo.clone_url, server.token), 'main:refs/heads/evil\u202egnp.exe'], path.join(dir, 'src'));

  const title = 'evil\x1b]0;pwned\x07\x1b[2J\u009b31m\u202etxt.exe\nsecond line';
  const job = await submit(server, { repo_id: repo.id, title, command: 'true' });
  const runner = await registerRunner(server, 'r');
  const a = (await poll(server, runner.token))!;
  const chunks = [
    '\x1b[31mred\x1b[0m plain\r\n',
    'title \x1b]0;ti', // an escape sequence cut between two chunks
    'tle\x07 after\n\x1b]52;c;ZXZpbA==\x07\x1b[2J\x1b[1A\x07bell\u009b2J\u202eend\n',
  ];
  for (const [i, data] of chunks.entries())
    assert.equal((await api(server, 'POST', RunnerRoutes.logs(a.attempt_id), { seq: i + 1, data }, { token: a.job_token })).status, 200);
  const error = 'boom\x1b]0;owned\x07\x1b[1A\u009d8;;http://evil\u009c';
  assert.equal(
    (await api(server, 'POST', RunnerRoutes.complete(a.attempt_id), { outcome: 'failed', exit_code: 1, error }, { token: a.job_token })).status,
    200,
  );

  const outputs: Record<string, string> = {};
  for (const args of [
    ['jobs', 'list'],
    ['jobs', 'show', job.id],
    ['jobs', 'show', job.id, '--json'],
    ['jobs', 'list', '--json'],
    ['branches', repo.name],
    ['branches', repo.name, '--json'],
  ]) {
    const r = await cli(args, { server });
    assert.equal(r.code, 0, r.stderr);
    outputs[args.join(' ')] = r.stdout;
    assert.doesNotMatch(r.stdout, ACTS_ON_TERMINAL, `lazyaf ${args.join(' ')} printed a control character:\n${JSON.stringify(r.stdout)}`);
  }
  assert.match(outputs[`jobs show ${job.id}`]!, /evil\\x1b\]0;pwned\\x07\\x1b\[2J\\x9b31m\\u202etxt\.exe\\nsecond line/, 'the title is shown, escaped');
  assert.match(outputs[`jobs show ${job.id}`]!, /boom\\x1b\]0;owned/, "the runner's error is shown, escaped");
  assert.equal(JSON.parse(outputs[`jobs show ${job.id} --json`]!).title, title, 'the JSON still carries the exact title');
  assert.match(outputs[`branches ${repo.name}`]!, /evil\\u202egnp\.exe/);

  for (const args of [
    ['jobs', 'logs', job.id],
    ['jobs', 'logs', '-f', job.id],
  ]) {
    const r = await cli(args, { server });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\x1b\[31mred\x1b\[0m plain\r\n/, 'colours and carriage returns pass');
    assert.match(r.stdout, /title {2}after\n/, 'a title sequence cut across chunks is dropped whole');
    assert.match(r.stdout, /\\x07bell\\x9b2J\\u202eend\n/, 'other controls are shown escaped');
    const withoutColours = r.stdout.replace(SGR, '').replace(/\r\n/g, '\n');
    assert.doesNotMatch(withoutColours, ACTS_ON_TERMINAL, `lazyaf ${args.join(' ')}:\n${JSON.stringify(r.stdout)}`);
  }

  // Error messages echo what the server was given: shown escaped too.
  const missing = await cli(['jobs', 'show', 'nope\x1b]0;x\x07'], { server });
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /nope\\x1b\]0;x\\x07/);
  assert.doesNotMatch(missing.stderr, ACTS_ON_TERMINAL);
});
