import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type Docker from 'dockerode';
import { serverIdentity } from '../src/server/pool/make.js';
import type { RunnerList } from '../src/shared/api.js';
import { containerOutput, dockerOrSkip, removeContainers, testRunnerImage } from './docker-helpers.js';
import { api, eventually, startTestServer, tempDir } from './helpers.js';
import { runJob, seedRepo } from './queue-helpers.js';

// A runner in a container cannot make cgroups (Docker mounts them read-only): the docker pool sizes
// each container from the job limits, and the runner inside tells what its job hit from the
// container's own counters.

const MiB = 1024 ** 2;

test("a docker pool runner's container holds its job's limits: processes, memory (the runner survives it) and the workspace's disk", async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const image = await testRunnerImage(docker);
  const server = await startTestServer(t, {
    LAZYAF_LAUNCHER: 'docker',
    LAZYAF_RUNNER_IMAGE: image,
    LAZYAF_JOB_PIDS: '64',
    LAZYAF_JOB_MEMORY: '128m',
    LAZYAF_JOB_DISK: '16m',
  });
  const id = serverIdentity(server.dataDir);
  t.after(() => removeContainers(docker, { 'lazyaf.server': id }));
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  server.ctx.serverUrl = server.url;
  await server.ctx.pool.start();
  assert.equal((await api(server, 'PUT', '/api/pool', { desired: 1 })).status, 200);
  await eventually('the runner container to register', async () => (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.length === 1, 120_000);

  const [info] = await docker.listContainers({ filters: { label: [`lazyaf.server=${id}`] } });
  const container = docker.getContainer(info!.Id);
  const spec: Docker.ContainerInspectInfo = await container.inspect();
  // The job's limits and the runner's own share: 64 more processes, 256 MiB more memory.
  assert.equal(spec.HostConfig.PidsLimit, 128);
  assert.equal(spec.HostConfig.Memory, 384 * MiB);
  assert.ok(spec.Config.Env.includes(`LAZYAF_JOB_DISK=${16 * MiB}`), spec.Config.Env.join('\n'));
  assert.match(
    await containerOutput(container),
    /jobs' limits: the container's limits: 128 processes and threads, 384 MiB of memory \(no cgroup of the job's own in this container: cannot make cgroups/,
  );

  const job = (title: string, command: string) => ({ repo_id: repo.id, title, command, timeout_s: 120 });
  const forks = await runJob(
    server,
    job('forks', `sh -c 'for i in $(seq 300); do sleep 20 & echo $i > count; done' 2>/dev/null; read n < count; echo "forked $n"`),
    120_000,
  );
  const forked = Number(/^forked (\d+)$/m.exec(forks.log)?.[1]);
  assert.ok(forked > 10 && forked < 128, `forked ${forked}\n${forks.log}`);
  assert.equal(forks.error, 'the job reached its process limit (128 processes and threads)', forks.log);

  const memory = await runJob(server, job('eat memory', 'head -c 600000000 /dev/zero | tail -n 1 > /dev/null; echo "tail exited $?"'), 120_000);
  assert.equal(memory.error, 'the job exceeded its memory limit (384 MiB)', memory.log);
  assert.match(memory.log, /^tail exited 137$/m);

  const disk = await runJob(server, job('fill the disk', 'for i in $(seq 40); do head -c 1000000 /dev/zero > f$i; done; sleep 60'), 120_000);
  assert.equal(disk.error, 'the job exceeded its disk limit (more than 16 MiB in its workspace)', disk.log);

  // The same runner, still there, takes the next job.
  const after = await runJob(server, job('after', 'true'), 120_000);
  assert.equal(after.status, 'succeeded', after.log);
  assert.equal(after.runner_id, forks.runner_id);
});
