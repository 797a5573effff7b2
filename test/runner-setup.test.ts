import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { startRunner, type RunnerHandle } from '../src/runner/runner.js';
import { envCacheRoot } from '../src/runner/env-cache.js';
import { api, authUrl, barePath, commitFiles, eventually, git, startTestServer, tempDir, type TestServer } from './helpers.js';
import { logOf, runJob, seedRepo, submit, waitForJob } from './queue-helpers.js';
import { closeInOrder, environment, envRelay, nodeProject, type EnvironmentFor, type EnvRelay } from './env-helpers.js';

// A repo's setup on a real runner (its bubblewrap wall where the machine has it), through the real
// server, queue and git server: the relay only adds the environment to each assignment.

interface Setting {
  server: TestServer;
  relay: EnvRelay;
  runner: RunnerHandle & { lines: string[]; workdir: string };
}

async function setting(t: TestContext, environmentFor: EnvironmentFor): Promise<Setting> {
  const closing = closeInOrder(t);
  const server = await startTestServer(t);
  const relay = await envRelay(server, environmentFor);
  const lines: string[] = [];
  const workdir = tempDir(t, 'lazyaf-runner-setup-');
  const handle = startRunner({
    server: relay.url,
    registrationToken: server.ctx.registrationToken,
    name: 'setup',
    labels: [],
    workdir,
    log: (line) => lines.push(line),
    killGraceMs: 500,
    shutdownReportMs: 3000,
  });
  closing(() => handle.stop());
  closing(async () => {
    await relay.close();
    server.app.server.closeAllConnections();
  });
  return { server, relay, runner: Object.assign(handle, { lines, workdir }) };
}

const NPM_SETUP = { setup: ['npm ci --no-audit --no-fund'], cache: { paths: ['node_modules'], key: ['package-lock.json'] } };

/** Prints the version of is-number that the command finds in node_modules. */
const SHOW_VERSION = `node -e "console.log('is-number ' + require('is-number/package.json').version)"`;

test('npm ci runs once and is cached: the same lockfile restores node_modules without setup, another runs it again; a job cannot change the cache', async (t) => {
  const s = await setting(t, () => ({ environment: environment(NPM_SETUP) }));
  const src = path.join(tempDir(t), 'src');
  const repo = await seedRepo(s.server, src, 'npm', nodeProject('7.0.0'));
  const runOne = (title: string, command: string) => runJob(s.server, { repo_id: repo.id, title, command }, 180_000);

  const first = await runOne('first', SHOW_VERSION);
  assert.equal(first.status, 'succeeded', first.log);
  assert.match(first.log, /^\[lazyaf\] setup: npm ci --no-audit --no-fund$/m);
  assert.match(first.log, /^added 1 package/m, 'npm ci ran, its output in the log');
  assert.match(first.log, /^\[lazyaf\] setup: passed in \d+\.\d s$/m);
  assert.match(first.log, /^\[lazyaf\] setup: cached node_modules \(key [0-9a-f]{12}\)/m);
  assert.match(first.log, /^is-number 7\.0\.0$/m);
  assert.equal(s.relay.completions.get(first.id)?.setup?.status, 'passed');
  // Setup comes before the command, in the log as in time.
  assert.ok(first.log.indexOf('setup: passed') < first.log.indexOf('is-number 7.0.0'));

  // The second job's command writes into what was restored: the cache must not see it.
  const second = await runOne('second', `${SHOW_VERSION} && echo poisoned > node_modules/is-number/index.js && echo wrote`);
  assert.equal(second.status, 'succeeded', second.log);
  assert.match(second.log, /^\[lazyaf\] setup: restored from cache \(key [0-9a-f]{12}\) in \d+\.\d s; setup not run$/m);
  assert.doesNotMatch(second.log, /setup: npm ci|added 1 package/, 'setup did not run');
  assert.match(second.log, /^is-number 7\.0\.0$/m);
  assert.match(second.log, /^wrote$/m);
  const cached = s.relay.completions.get(second.id)?.setup;
  assert.equal(cached?.status, 'cached');
  assert.ok(Number.isInteger(cached?.duration_ms));

  const third = await runOne('third', `${SHOW_VERSION} && if grep -q poisoned node_modules/is-number/index.js; then echo POISONED; else echo clean; fi`);
  assert.equal(third.status, 'succeeded', third.log);
  assert.match(third.log, /setup: restored from cache/);
  assert.match(third.log, /^clean$/m, 'the previous job wrote into its own copy only');

  // Another lockfile is another key: setup runs again, and installs what it says.
  await commitFiles(src, nodeProject('6.0.0'), 'is-number 6');
  await git(['push', '-q', authUrl(repo.clone_url, s.server.token), 'main'], src);
  const fourth = await runOne('fourth', SHOW_VERSION);
  assert.equal(fourth.status, 'succeeded', fourth.log);
  assert.match(fourth.log, /^\[lazyaf\] setup: npm ci --no-audit --no-fund$/m);
  assert.doesNotMatch(fourth.log, /restored from cache/);
  assert.match(fourth.log, /^is-number 6\.0\.0$/m);
  assert.equal(fs.readdirSync(envCacheRoot(s.runner.workdir, repo.id)).filter((n) => /^[0-9a-f]{64}$/.test(n)).length, 2);
});

test("a secret for setup only is absent from the command's environment and never in the log, even when setup prints it", async (t) => {
  const SETUP_ONLY = 'setup-only-value-7f3a9c21e8';
  const FOR_JOB = 'for-the-job-value-41d0b7aa55';
  let workdir = '';
  const s = await setting(t, () => ({
    environment: environment({
      setup: [
        `echo "setup sees $REGISTRY_TOKEN and $DEPLOY_KEY, plain=$PLAIN"; if [ -e "${workdir}/runner.pid" ]; then echo "setup: workdir visible"; else echo "setup: workdir hidden"; fi`,
      ],
      env: { PLAIN: 'plain-value' },
      setup_secrets: { REGISTRY_TOKEN: SETUP_ONLY },
      job_secrets: { DEPLOY_KEY: FOR_JOB },
    }),
  }));
  workdir = s.runner.workdir;
  const repo = await seedRepo(s.server, path.join(tempDir(t), 'src'), 'secrets');
  const job = await runJob(
    s.server,
    {
      repo_id: repo.id,
      title: 'secrets',
      command: 'echo "command: token=${REGISTRY_TOKEN:-unset} plain=$PLAIN key=$DEPLOY_KEY"; env | grep -c "^REGISTRY_TOKEN=" || true',
    },
    60_000,
  );
  assert.equal(job.status, 'succeeded', job.log);
  assert.match(job.log, /^setup sees \[redacted\] and \[redacted\], plain=plain-value$/m, 'setup got both secrets, redacted from its output');
  assert.match(job.log, /^command: token=unset plain=plain-value key=\[redacted\]$/m, 'the command got the job secret only');
  assert.match(job.log, /^0$/m, "no REGISTRY_TOKEN in the command's environment");
  for (const value of [SETUP_ONLY, FOR_JOB]) assert.ok(!job.log.includes(value), `a secret in the log: ${job.log}`);
  assert.ok(!JSON.stringify(s.relay.completions.get(job.id)).includes(SETUP_ONLY));
  assert.equal(s.relay.completions.get(job.id)?.setup?.status, 'passed');
  // Setup ran behind the job's wall: the runner's work dir (its caches) is out of its sight.
  assert.ok(
    s.runner.lines.some((l) => /bubblewrap sandbox/.test(l)),
    `no sandbox on this machine: ${s.runner.lines.join('\n')}`,
  );
  assert.ok(fs.existsSync(path.join(workdir, 'runner.pid')));
  assert.match(job.log, /^setup: workdir hidden$/m);
});

test('a setup command that fails fails the job, naming it and its exit code; the command does not run; what setup did is kept', async (t) => {
  const s = await setting(t, () => ({
    environment: environment({ setup: ['echo made > made-by-setup.txt', 'echo preparing; exit 3', 'echo never'], image: 'node:20-bookworm' }),
  }));
  const repo = await seedRepo(s.server, path.join(tempDir(t), 'src'), 'fails');
  const job = await runJob(s.server, { repo_id: repo.id, title: 'fails', command: 'echo THE-COMMAND-RAN' }, 60_000);
  assert.equal(job.status, 'failed', job.log);
  assert.equal(job.error, 'setup command "echo preparing; exit 3" failed (exit code 3)');
  assert.match(job.log, /^preparing$/m);
  assert.match(
    job.log,
    /^\[lazyaf\] environment: image node:20-bookworm is not applied: a job runs in its runner's wall \(send the repo's jobs, by a label, to runners of an image built on it\)$/m,
    'an image is not ignored silently',
  );
  assert.match(job.log, /^\[lazyaf\] setup: failed after \d+\.\d s: setup command "echo preparing; exit 3" failed \(exit code 3\)$/m);
  assert.doesNotMatch(job.log, /THE-COMMAND-RAN|^never$/m);
  assert.equal(s.relay.completions.get(job.id)?.setup?.status, 'failed');
  assert.ok(job.commit, 'what setup left was pushed, as for any failed job');
  assert.match(await git(['ls-tree', '--name-only', job.commit, '--'], barePath(s.server.dataDir, repo.id)), /^made-by-setup\.txt$/m);
});

test('a broken environment file is one line in the log and a failed job: nothing runs', async (t) => {
  const error = '.lazyaf.yml: setup: expected a command or a list of commands (line 1)';
  const s = await setting(t, () => ({ environment_error: error }));
  const repo = await seedRepo(s.server, path.join(tempDir(t), 'src'), 'broken');
  const job = await runJob(s.server, { repo_id: repo.id, title: 'broken', command: 'echo THE-COMMAND-RAN' }, 60_000);
  assert.equal(job.status, 'failed', job.log);
  assert.equal(job.error, error);
  assert.equal(job.log.split('\n').filter((l) => l.includes('.lazyaf.yml')).length, 1, job.log);
  assert.doesNotMatch(job.log, /THE-COMMAND-RAN|cloning/);
  assert.equal(s.relay.completions.get(job.id)?.setup, undefined);
});

test("a repo's secret that setup writes into the job's files is not pushed", async (t) => {
  const TOKEN = 'npm-registry-token-5c1e0d9b';
  const s = await setting(t, () => ({
    environment: environment({ setup: ['echo "//registry.example/:_authToken=$PUBLISH_AUTH" > .npmrc'], setup_secrets: { PUBLISH_AUTH: TOKEN } }),
  }));
  const repo = await seedRepo(s.server, path.join(tempDir(t), 'src'), 'leak');
  const job = await runJob(s.server, { repo_id: repo.id, title: 'leak', command: 'true' }, 60_000);
  assert.equal(job.status, 'failed', job.log);
  assert.match(job.error ?? '', /the job's changes hold the value of PUBLISH_AUTH \(.*\.npmrc.*\): not pushed/);
  assert.equal(job.commit, null);
  assert.ok(!job.log.includes(TOKEN));
});

test("setup's time counts in the job's timeout: a setup that outlives it times the job out, and the command does not run", async (t) => {
  const s = await setting(t, () => ({ environment: environment({ setup: ['echo waiting; sleep 60'] }) }));
  const repo = await seedRepo(s.server, path.join(tempDir(t), 'src'), 'slow');
  const job = await runJob(s.server, { repo_id: repo.id, title: 'slow', command: 'echo THE-COMMAND-RAN', timeout_s: 2 }, 60_000);
  assert.equal(job.status, 'failed', job.log);
  assert.equal(s.relay.completions.get(job.id)?.outcome, 'timeout');
  assert.match(job.error ?? '', /during setup command "echo waiting; sleep 60"/);
  assert.match(job.log, /^waiting$/m);
  assert.doesNotMatch(job.log, /THE-COMMAND-RAN/);
  assert.equal(s.relay.completions.get(job.id)?.setup?.status, 'failed');
});

test('a job cancelled during setup stops there: the command does not run, and nothing is cached', async (t) => {
  const s = await setting(t, () => ({
    environment: environment({ setup: ['mkdir -p deps && echo started && sleep 60'], cache: { paths: ['deps'], key: [] } }),
  }));
  const repo = await seedRepo(s.server, path.join(tempDir(t), 'src'), 'cancel');
  const job = await submit(s.server, { repo_id: repo.id, title: 'cancel', command: 'echo THE-COMMAND-RAN' });
  await eventually('setup to start', async () => /^started$/m.test(await logOf(s.server, job.id)));
  assert.equal((await api(s.server, 'POST', `/api/jobs/${job.id}/cancel`)).status, 200);
  const done = await waitForJob(s.server, job.id, undefined, 60_000);
  const log = await logOf(s.server, job.id);
  assert.equal(done.status, 'cancelled', log);
  assert.doesNotMatch(log, /THE-COMMAND-RAN|setup: cached/);
  assert.match(log, /^\[lazyaf\] setup: stopped after \d+\.\d s \(cancelled\)$/m);
  assert.equal(s.relay.completions.get(job.id)?.setup?.status, 'failed');
  assert.ok(!fs.existsSync(envCacheRoot(s.runner.workdir, repo.id)) || fs.readdirSync(envCacheRoot(s.runner.workdir, repo.id)).length === 0);
});
