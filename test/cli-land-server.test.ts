import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { api, branchTip, cli, git, startTestServer, tempDir } from './helpers.js';
import { processesMatching, seedRepo, submit, waitForJob } from './queue-helpers.js';
import { startGitlab } from './forges/gitlab.js';

// `lazyaf land JOB --from-server`, against `lazyaf server` as a process: what it prints, what
// `jobs show` says of the landing, and that the forge token shows in neither, nor in anything the
// server writes (at debug level), whatever the forge answers.

const TOKEN = 'glpat-cli0123456789abcdefghijklmn';
/** The server-wide token of its environment: the repo's own stored one wins over it, and no runner inherits it. */
const ENV_TOKEN = 'glpat-env0123456789abcdefghijklmn';

test('lazyaf land JOB --from-server --pr lands and opens the merge request; jobs show prints it; the token is in no output', async (t) => {
  const dir = tempDir(t);
  const dataDir = path.join(dir, 'data');
  const server = await startTestServer(t, { LAZYAF_FORGE_TOKEN: ENV_TOKEN }, { dataDir, runners: 1, logLevel: 'debug' });
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo');
  const origin = path.join(dir, 'origin.git');
  await git(['init', '-q', '--bare', '--initial-branch=main', origin]);
  await git(['push', '-q', origin, 'main'], path.join(dir, 'src'));
  const forge = await startGitlab(t, { token: TOKEN, project: 'acme/widgets', remote: origin });
  const patched = await api(server, 'PATCH', `/api/repos/${repo.id}`, {
    remote_url: `file://${origin}`,
    forge: { kind: 'gitlab', api_url: `${forge.url}/api/v4`, project: 'acme/widgets' },
  });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  const stored = await cli(['secrets', 'set', 'LAZYAF_FORGE_TOKEN', '--repo', 'demo'], { server, input: `${TOKEN}\n` });
  assert.equal(stored.code, 0, stored.stderr);
  const job = await waitForJob(server, (await submit(server, { repo_id: 'demo', title: 'Add a', command: 'echo a > a.txt' })).id, undefined, 120_000);
  assert.equal(job.status, 'succeeded', job.error ?? '');
  const short = job.id.slice(0, 8);
  const outputs: string[] = [];

  const landed = await cli(['land', short, '--from-server', '--pr'], { server, cwd: dir });
  outputs.push(landed.stdout, landed.stderr);
  assert.equal(landed.code, 0, landed.stderr);
  const mr = 'https://gitlab.example/acme/widgets/-/merge_requests/1';
  assert.equal(landed.stdout, `Landed ${job.branch} (${job.commit!.slice(0, 12)}) on file://${origin}\nOpened pull request: ${mr}\n`);
  assert.equal(await branchTip(origin, job.branch!), job.commit);
  assert.deepEqual(forge.problems, []);

  const shown = await cli(['jobs', 'show', short], { server });
  outputs.push(shown.stdout, shown.stderr);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`^landed: +${job.branch} \\(${job.commit!.slice(0, 8)}\\) on file://\\S+origin\\.git by admin at \\d{4}-`, 'm'));
  assert.match(shown.stdout, new RegExp(`^pr: +${mr.replace(/[/.]/g, '\\$&')}$`, 'm'));
  const listed = await cli(['jobs', 'list'], { server });
  assert.match(listed.stdout, new RegExp(`^${short} +succeeded, landed `, 'm'), 'the list marks a landed job');

  // A forge that echoes the token: landed, the reason in words, exit 1, the token hidden.
  forge.hostile = 'echo-token';
  const echoed = await cli(['land', short, '--from-server', '--pr'], { server, cwd: dir });
  outputs.push(echoed.stdout, echoed.stderr);
  assert.equal(echoed.code, 1);
  assert.equal(
    echoed.stderr,
    'lazyaf: the branch was landed, but no pull request was opened: the forge refused the merge request (HTTP 403): token [hidden] is not allowed here\n',
  );

  // A job that cannot be landed is refused by the server in the CLI's words; --branch is not for --from-server.
  const empty = await waitForJob(server, (await submit(server, { repo_id: 'demo', title: 'nothing', command: 'true' })).id, undefined, 120_000);
  const refused = await cli(['land', empty.id.slice(0, 8), '--from-server'], { server, cwd: dir });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /with no changes: it has no branch to land/);
  const both = await cli(['land', 'demo', '--from-server', '--branch', 'main'], { server, cwd: dir });
  assert.equal(both.code, 1);
  assert.match(both.stderr, /--from-server lands a job/);

  for (const text of [...outputs, server.output()]) assert.ok(!text.includes(TOKEN) && !text.includes(ENV_TOKEN), 'the token is in an output');
  // The pool's runners (the bundle, or `lazyaf runner` when the bundle is older than the build) started with this server's data dir in their environment.
  const environs = processesMatching(' --name pool-').flatMap((pid) => {
    try {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      return environ.includes(`LAZYAF_DATA=${dataDir}`) ? [environ] : [];
    } catch {
      return [];
    }
  });
  assert.ok(environs.length > 0, 'the pool runner is found');
  for (const environ of environs) assert.ok(!environ.some((v) => v.includes(ENV_TOKEN)), 'a pool runner inherited the token');
  assert.match(server.output(), /\/land/, 'the server logged the land requests (debug)');
});
