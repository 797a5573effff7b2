import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { JobLogs, RunnerList } from '../src/shared/api.js';
import { containerLabels, dockerOrSkip, testRunnerImage } from './docker-helpers.js';
import { api, eventually, git, startTestServer, tempDir } from './helpers.js';
import { ended, seedRepo, submit, waitForJob } from './queue-helpers.js';

test('a container of the runner image registers with the container as its wall, runs a job as a non-root user, pushes its branch and leaves cleanly on docker stop', async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const image = await testRunnerImage(docker);
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));

  const container = await docker.createContainer({
    Image: image,
    Cmd: ['--server', server.url, '--name', 'in-docker'],
    Env: [`LAZYAF_TOKEN=${server.registrationToken}`],
    Labels: containerLabels(t, docker),
    // The test server listens on 127.0.0.1 of this machine.
    HostConfig: { NetworkMode: 'host' },
  });
  await container.start();
  const runner = await eventually(
    'the container registers',
    async () => (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.find((r) => r.name === 'in-docker'),
    120_000,
  );
  assert.equal(runner.sandbox, 'container');
  const output = (await container.logs({ stdout: true, stderr: true })).toString('utf8');
  assert.match(output, /jobs run in this runner's container, their sandbox \(no bubblewrap inside it\)/);

  const job = await submit(server, { repo_id: repo.id, title: 'in a container', command: 'id -u > uid.txt && echo made in a container > made.txt' });
  const done = await waitForJob(server, job.id, ended, 120_000);
  assert.equal(done.status, 'succeeded', done.error ?? undefined);
  assert.equal(done.attempts?.[0]?.runner_id, runner.id);
  const bare = path.join(server.ctx.reposDir, `${repo.id}.git`);
  const uid = await git(['show', `${done.branch}:uid.txt`], bare);
  assert.match(uid, /^\d+$/);
  assert.notEqual(uid, '0', 'the job ran as a non-root user');
  assert.equal(await git(['show', `${done.branch}:made.txt`], bare), 'made in a container');
  assert.match((await api<JobLogs>(server, 'GET', `/api/jobs/${job.id}/logs`)).body.content, /running in the runner's container/);

  // `docker stop`'s SIGTERM reaches the runner through the image's init: it deregisters and exits cleanly.
  await container.stop({ t: 30 });
  assert.equal((await container.inspect()).State.ExitCode, 0);
  const left = (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.find((r) => r.id === runner.id);
  assert.equal(left, undefined, 'the runner deregistered');
});
