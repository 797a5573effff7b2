import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type Docker from 'dockerode';
import type { Repo, RunnerList } from '../src/shared/api.js';
import { api, CLI, eventually, run, startTestServer, tempDir, type ServerProcess, type Target } from './helpers.js';
import { containerLabels, dockerOrSkip, removeContainers, testRunnerImage } from './docker-helpers.js';
import { logOf, runJob, seedRepo, submit, waitForJob } from './queue-helpers.js';
import { ConfigError, resolveServerConfig } from '../src/server/config.js';
import { hostRelayDir } from '../src/server/pool/host-relay.js';

const SLOW = 120_000;

/** A docker-launcher server as a child process on `dataDir`, its containers removed when the test ends. */
async function dockerServer(t: TestContext, docker: Docker, dataDir: string, opts: { runners?: number; port?: number; env?: NodeJS.ProcessEnv } = {}) {
  const env = { LAZYAF_LAUNCHER: 'docker', LAZYAF_RUNNER_IMAGE: await testRunnerImage(docker), ...opts.env };
  const server = await startTestServer(t, env, { dataDir, runners: opts.runners, port: opts.port });
  // Read now: the data dir may be gone by the time the after-hooks run.
  const id = serverId(dataDir);
  t.after(() => removeContainers(docker, { 'lazyaf.server': id }));
  return server;
}

function serverId(dataDir: string): string {
  return fs.readFileSync(path.join(dataDir, 'server_id'), 'utf8').trim();
}

/** The containers labelled as this data dir's server's, any state. */
function containersOf(docker: Docker, dataDir: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`lazyaf.server=${serverId(dataDir)}`] } });
}

async function liveRunners(server: Target) {
  return (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.filter((r) => r.status !== 'offline');
}

/**
 * Waits until exactly `n` containers of this server run, none is left in another state, and the
 * registry lists exactly their pool ids as live runners (not draining).
 */
async function settledAt(docker: Docker, server: ServerProcess, n: number): Promise<Docker.ContainerInfo[]> {
  let seen = '';
  return eventually(
    () => `${n} runner containers, registered (${seen})`,
    async () => {
      const all = await containersOf(docker, server.dataDir);
      const running = all.filter((c) => c.State === 'running');
      const runners = await liveRunners(server);
      seen = `containers ${all.map((c) => `${c.Labels['lazyaf.pool-id']}:${c.State}`).join(',')}; runners ${runners.map((r) => `${r.pool_id}:${r.status}`).join(',')}`;
      const poolIds = running.map((c) => c.Labels['lazyaf.pool-id']).sort();
      const registered = runners
        .filter((r) => r.status !== 'draining')
        .map((r) => r.pool_id)
        .sort();
      return all.length === n && running.length === n && JSON.stringify(poolIds) === JSON.stringify(registered) && running;
    },
    SLOW,
  );
}

/** A repo holding one file on main, made from `dir`/src. */
function seed(server: Target, dir: string): Promise<Repo> {
  return seedRepo(server, path.join(dir, 'src'), 'demo', { 'a.txt': 'a\n' });
}

test('an unreachable Docker engine stops the server with one line that says where it looked', async (t) => {
  const data = path.join(tempDir(t), 'data');
  const r = await run(process.execPath, [CLI, 'server', '--launcher', 'docker', '--port', '0', '--data', data], {
    env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent.sock' },
  });
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^lazyaf: cannot reach the Docker engine at unix:\/\/\/nonexistent\.sock \(DOCKER_HOST\)/);
  // Checked before the server listens: no "listening" line on either stream.
  assert.equal(r.stdout.trim(), '', r.stdout);
});

test('runner container limits are parsed and checked: CPUs, memory, network, the URL runners use', () => {
  const docker = (env: NodeJS.ProcessEnv) => resolveServerConfig({}, env).docker;
  assert.deepEqual(docker({ LAZYAF_RUNNER_CPUS: '1.5', LAZYAF_RUNNER_MEMORY: '2g' }), {
    cpus: 1.5,
    memoryBytes: 2 * 1024 ** 3,
    network: 'bridge',
    serverUrl: undefined,
  });
  assert.equal(docker({ LAZYAF_RUNNER_MEMORY: '512M' }).memoryBytes, 512 * 1024 ** 2);
  assert.equal(docker({ LAZYAF_RUNNER_SERVER_URL: 'http://host.docker.internal:8000/' }).serverUrl, 'http://host.docker.internal:8000');
  for (const env of [
    { LAZYAF_RUNNER_CPUS: '0' },
    { LAZYAF_RUNNER_CPUS: 'lots' },
    { LAZYAF_RUNNER_MEMORY: '3x' },
    { LAZYAF_RUNNER_MEMORY: '1m' },
    { LAZYAF_RUNNER_MEMORY: '-5g' },
    { LAZYAF_RUNNER_NETWORK: 'host; rm -rf /' },
    { LAZYAF_RUNNER_SERVER_URL: 'host:8000' },
    { LAZYAF_JOB_HOST_PORTS: '8787,0' },
  ])
    assert.throws(() => docker(env), ConfigError, JSON.stringify(env));
});

test('a missing runner image stops the server with one line that says how to build it', async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const data = path.join(tempDir(t), 'data');
  const r = await run(process.execPath, [CLI, 'server', '--launcher', 'docker', '--port', '0', '--data', data], {
    env: { ...process.env, LAZYAF_RUNNER_IMAGE: 'lazyaf-runner:no-such-tag' },
  });
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /lazyaf-runner:no-such-tag .*npm run image/);
});

test('docker pool: 0 → 3 → 1 → 2 runner containers, busy runners finish their jobs as a non-root user and push', async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const dir = tempDir(t);
  const server = await dockerServer(t, docker, path.join(dir, 'data'), { runners: 0, env: { LAZYAF_RUNNER_CPUS: '1.5', LAZYAF_RUNNER_MEMORY: '512m' } });
  const repo = await seed(server, dir);
  assert.equal((await containersOf(docker, server.dataDir)).length, 0);

  assert.equal((await api(server, 'PUT', '/api/pool', { desired: 3 })).status, 200);
  const three = await settledAt(docker, server, 3);
  for (const c of three) {
    const spec: Docker.ContainerInspectInfo = await docker.getContainer(c.Id).inspect();
    assert.equal(spec.HostConfig.Init, true);
    assert.equal(spec.HostConfig.RestartPolicy?.Name, 'no');
    assert.equal(spec.HostConfig.NanoCpus, 1.5e9);
    assert.equal(spec.HostConfig.Memory, 512 * 1024 ** 2);
    // A network namespace of its own, where the runner may set its jobs' firewall rules, and the
    // server reached through the relay folder on the container's loopback.
    assert.equal(spec.HostConfig.NetworkMode, 'bridge');
    assert.deepEqual(spec.HostConfig.CapAdd, ['NET_ADMIN']);
    assert.deepEqual(spec.HostConfig.Binds, [`${hostRelayDir(server.dataDir)}:/run/lazyaf/host:ro`]);
    assert.ok(spec.Config.Env.includes(`LAZYAF_SERVER=http://127.0.0.1:${server.port}`), spec.Config.Env.join(','));
    const env = spec.Config.Env.map((e) => e.split('=')[0]);
    assert.ok(!env.includes('LAZYAF_ADMIN_TOKEN') && !env.includes('LAZYAF_REGISTRATION_TOKEN'), env.join(','));
  }

  // Two jobs keep two runners busy past the scale-down, so one busy runner must drain.
  const jobs = [
    await submit(server, { repo_id: repo.id, title: 'busy one', command: `id -u; echo one > one.txt; sleep 4` }),
    await submit(server, { repo_id: repo.id, title: 'busy two', command: `id -u; echo two > two.txt; sleep 4` }),
  ];
  for (const job of jobs) await waitForJob(server, job.id, (j) => j.status === 'running', SLOW);
  assert.equal((await api(server, 'PUT', '/api/pool', { desired: 1 })).status, 200);
  for (const job of jobs) {
    const done = await waitForJob(server, job.id, undefined, SLOW);
    assert.equal(done.status, 'succeeded', done.error ?? '');
    const log = await logOf(server, job.id);
    const uid = Number(/^(\d+)$/m.exec(log)?.[1]);
    assert.ok(Number.isInteger(uid) && uid !== 0, `the job ran as uid ${uid}: ${log}`);
    const branches = (await api(server, 'GET', `/api/repos/${repo.id}/branches`)).body.branches as { name: string }[];
    assert.ok(
      branches.some((b) => b.name === done.branch),
      `${done.branch} pushed`,
    );
  }
  await settledAt(docker, server, 1);

  assert.equal((await api(server, 'PUT', '/api/pool', { desired: 2 })).status, 200);
  await settledAt(docker, server, 2);
});

test('a runner container killed from outside is removed and replaced', async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const server = await dockerServer(t, docker, path.join(tempDir(t), 'data'), { runners: 1 });
  const [before] = await settledAt(docker, server, 1);
  await docker.getContainer(before!.Id).kill();
  const [after] = await eventually(
    'a new container',
    async () => {
      const now = await settledAt(docker, server, 1);
      return now[0]!.Id !== before!.Id && now;
    },
    SLOW,
  );
  assert.notEqual(after!.Id, before!.Id);
});

test('a server SIGKILLed and restarted on its data dir ends with exactly its desired containers, and leaves other servers alone', async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const data = path.join(tempDir(t), 'data');
  // A container of another server on the same engine, which this one must never touch.
  const foreign = await docker.createContainer({
    Image: await testRunnerImage(docker),
    Labels: { ...containerLabels(t, docker), 'lazyaf.server': 'lzsrv_another', 'lazyaf.pool-id': 'pool-1' },
  });

  const first = await dockerServer(t, docker, data, { runners: 2 });
  const before = await settledAt(docker, first, 2);
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  assert.equal((await containersOf(docker, data)).filter((c) => c.State === 'running').length, 2, 'containers outlive their server');

  const second = await dockerServer(t, docker, data, { runners: 2, port: first.port });
  const ids = (cs: Docker.ContainerInfo[]) => cs.map((c) => c.Id).sort();
  assert.deepEqual(ids(await settledAt(docker, second, 2)), ids(before), 'the running containers were adopted');
  // A job through the adopted runners takes far longer than a container start the pool might still
  // be making: afterwards the set must be the same.
  const repo = await seed(second, path.dirname(data));
  const done = await runJob(second, { repo_id: repo.id, title: 'after the restart', command: 'echo ok > ok.txt' }, SLOW);
  assert.equal(done.status, 'succeeded', done.error ?? '');
  assert.deepEqual(ids(await settledAt(docker, second, 2)), ids(before), 'no runner container was added');
  await foreign.inspect();
});

test('an ephemeral docker pool runs each job in a new container and removes the old one', async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const dir = tempDir(t);
  const server = await dockerServer(t, docker, path.join(dir, 'data'), { runners: 1, env: { LAZYAF_EPHEMERAL: '1' } });
  const repo = await seed(server, dir);
  const ran: { container: string; runner: string | null }[] = [];
  for (const title of ['first', 'second']) {
    const [container] = await settledAt(docker, server, 1);
    const done = await runJob(server, { repo_id: repo.id, title, command: 'echo ok > ok.txt' }, SLOW);
    assert.equal(done.status, 'succeeded', done.error ?? '');
    ran.push({ container: container!.Id, runner: done.runner_id });
    await eventually('the used container removed', async () => !(await containersOf(docker, server.dataDir)).some((c) => c.Id === container!.Id), SLOW);
  }
  assert.notEqual(ran[0]!.container, ran[1]!.container);
  assert.notEqual(ran[0]!.runner, ran[1]!.runner);
});

test("a second start on the same data dir and port leaves the running server's containers alone; an ephemeral restart replaces the survivors", async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const data = path.join(tempDir(t), 'data');
  const first = await dockerServer(t, docker, data, { runners: 1 });
  const ids = (cs: Docker.ContainerInfo[]) => cs.map((c) => c.Id).sort();
  const before = ids(await settledAt(docker, first, 1));

  const env = { ...process.env, LAZYAF_LAUNCHER: 'docker', LAZYAF_RUNNER_IMAGE: await testRunnerImage(docker) };
  const again = await run(process.execPath, [CLI, 'server', '--port', String(first.port), '--data', data], { env });
  assert.notEqual(again.code, 0, 'the port is taken');
  assert.deepEqual(ids(await settledAt(docker, first, 1)), before, 'the first server keeps its container');

  // Killed, then started as an ephemeral pool: its persistent survivor is drained, not adopted.
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  const second = await dockerServer(t, docker, data, { runners: 1, port: first.port, env: { LAZYAF_EPHEMERAL: '1' } });
  await eventually('the survivor drained and removed', async () => !(await containersOf(docker, data)).some((c) => before.includes(c.Id)), SLOW);
  const after = await settledAt(docker, second, 1);
  assert.equal(after[0]!.Labels['lazyaf.ephemeral'], 'true');
});
