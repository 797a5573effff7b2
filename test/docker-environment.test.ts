import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { serverIdentity } from '../src/server/pool/make.js';
import type { RunnerList } from '../src/shared/api.js';
import { dockerOrSkip, removeContainers, testRunnerImage } from './docker-helpers.js';
import { api, commitFiles, eventually, git, authUrl, startTestServer, tempDir } from './helpers.js';
import { runJob, seedRepo } from './queue-helpers.js';

// A repo's environment on a docker pool runner: the runner is root in its container and every job
// runs as the image's job user, so setup must run as that user, the runner must keep the cache
// where that user cannot reach it, and a restored copy must be the job user's to change.

const SETUP_TOKEN = 'docker-setup-only-5b1e0c7d93';

const ENVIRONMENT = `setup:
  - mkdir -p deps && id -u > deps/setup-uid && echo "built from $(cat lock.txt)" > deps/built
  - echo "setup has $SETUP_TOKEN"
cache:
  paths: [deps]
  key: [lock.txt]
checks:
  user: 'test "$(id -u)" = "$(cat deps/setup-uid)" && cat deps/built'
secrets: [SETUP_TOKEN]
`;

test("a docker runner runs setup and checks as the job user: the cache is filled by setup, restored for the next job as the job user's own, and out of the job's reach", async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const image = await testRunnerImage(docker);
  const server = await startTestServer(t, { LAZYAF_LAUNCHER: 'docker', LAZYAF_RUNNER_IMAGE: image });
  const id = serverIdentity(server.dataDir);
  t.after(() => removeContainers(docker, { 'lazyaf.server': id }));
  const src = path.join(tempDir(t), 'src');
  const repo = await seedRepo(server, src, 'env', { 'README.md': '# env\n', 'lock.txt': 'v1\n', '.lazyaf.yml': ENVIRONMENT });
  assert.equal((await api(server, 'PUT', `/api/secrets/SETUP_TOKEN?repo=${repo.name}`, { value: SETUP_TOKEN })).status, 201);
  server.ctx.serverUrl = server.url;
  await server.ctx.pool.start();
  assert.equal((await api(server, 'PUT', '/api/pool', { desired: 1 })).status, 200);
  await eventually('the runner container to register', async () => (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.length === 1, 120_000);
  const runJobOf = (title: string, command: string) => runJob(server, { repo_id: repo.id, title, command, timeout_s: 120 }, 120_000);

  // The command writes into what setup left: after the cache was saved, so no later job sees it.
  const first = await runJobOf(
    'first',
    'cat deps/built; echo "command token=${SETUP_TOKEN:-unset}"; c="$(dirname "$(dirname "$PWD")")/env-cache"; [ -d "$c" ] && echo "the cache is at $c"; ls "$c" > /dev/null 2>&1 && echo cache-open || echo cache-closed; echo poisoned > deps/built && echo wrote',
  );
  assert.equal(first.status, 'succeeded', first.error ?? first.log);
  assert.match(first.log, /^\[lazyaf\] setup: passed in \d+\.\d s$/m);
  assert.match(first.log, /^\[lazyaf\] setup: cached deps \(key [0-9a-f]{12}\)/m);
  assert.match(first.log, /^setup has \[redacted\]$/m, 'setup got its secret, redacted from the log');
  assert.match(first.log, /^command token=unset$/m, 'the command did not');
  assert.match(first.log, /^built from v1$/m);
  assert.match(first.log, /^wrote$/m);
  assert.match(first.log, /^the cache is at \/.+\/env-cache$/m);
  assert.match(first.log, /^cache-closed$/m, "the job user cannot read the runner's cache");
  assert.ok(!first.log.includes(SETUP_TOKEN));
  assert.deepEqual(
    first.checks?.map((c) => [c.name, c.status]),
    [['user', 'passed']],
    first.checks?.[0]?.output_tail,
  );
  assert.equal(first.checks![0]!.output_tail, 'poisoned\n', "the checks see the job's work");

  // Restored, not run; the job user's to change; and what the first job's command wrote is not in it.
  const second = await runJobOf('second', `cat deps/built; cat deps/setup-uid; echo more > deps/extra && echo changed`);
  assert.equal(second.status, 'succeeded', second.error ?? second.log);
  assert.match(second.log, /^\[lazyaf\] setup: restored from cache \(key [0-9a-f]{12}\) in \d+\.\d s; setup not run$/m);
  assert.doesNotMatch(second.log, /setup has/);
  assert.match(second.log, /^built from v1$/m);
  assert.match(second.log, /^1000$/m, 'setup ran as the job user');
  assert.match(second.log, /^changed$/m, "the restored copy is the job user's");
  assert.deepEqual(
    second.checks?.map((c) => c.status),
    ['passed'],
  );

  // Another key runs setup again.
  await commitFiles(src, { 'lock.txt': 'v2\n' }, 'v2');
  await git(['push', '-q', authUrl(repo.clone_url, server.token), 'main'], src);
  const third = await runJobOf('third', 'cat deps/built');
  assert.equal(third.status, 'succeeded', third.error ?? third.log);
  assert.match(third.log, /^\[lazyaf\] setup: passed in/m);
  assert.match(third.log, /^built from v2$/m);
  assert.equal(new Set([first, second, third].map((j) => j.runner_id)).size, 1, 'one runner took all three');
});
