import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { containerLabels, dockerOrSkip, removeContainers, testRunnerImage } from './docker-helpers.js';
import { startTestServer, tempDir } from './helpers.js';
import { ended, logOf, seedRepo, submit, waitForJob } from './queue-helpers.js';

const SLOW = 120_000;

/** A TCP listener on `host` that greets each connection with `banner`; closed when the test ends. */
async function listener(t: TestContext, host: string, banner: string): Promise<number> {
  const server = net.createServer((socket) => socket.end(`${banner}\n`));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

/** This machine's first non-loopback IPv4 address: where a job on the host's network would find the host. */
function hostAddress(): string | undefined {
  return Object.values(os.networkInterfaces())
    .flatMap((list) => list ?? [])
    .find((a) => a.family === 'IPv4' && !a.internal && !a.address.startsWith('172.17.'))?.address;
}

/** Whether this machine itself reaches host:port within a few seconds. */
function reaches(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 5000 });
    socket.on('connect', () => (socket.destroy(), resolve(true)));
    socket.on('timeout', () => (socket.destroy(), resolve(false)));
    socket.on('error', () => resolve(false));
  });
}

/**
 * A job's probe, in node (the image has it): one line `probe NAME: open <first line read> | <error
 * code> | timeout` per target, a `host:port` or a unix socket path.
 */
function probeCommand(targets: Record<string, string>): string {
  const script = `
const net = require('net');
const targets = ${JSON.stringify(targets)};
for (const [name, where] of Object.entries(targets)) {
  const m = /^(.*):(\\d+)$/.exec(where);
  const socket = net.connect(m ? { host: m[1], port: Number(m[2]) } : { path: where });
  let said = '';
  const report = (what) => { console.log('probe ' + name + ': ' + what); socket.destroy(); };
  const timer = setTimeout(() => report('timeout'), 5000);
  socket.on('data', (d) => (said += d));
  socket.on('connect', () => setTimeout(() => { clearTimeout(timer); report('open ' + said.split('\\n')[0]); }, 300));
  socket.on('error', (e) => { clearTimeout(timer); report(e.code); });
}`;
  return `node -e '${script.replace(/'/g, `'\\''`)}'`;
}

function probes(log: string): Record<string, string> {
  return Object.fromEntries([...log.matchAll(/^probe (\S+): (.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}

test('a docker-pool job reaches the allowed host port and the outside world, not the server, the host (loopback, gateway, own address), another container or the metadata address; it cannot lift the rules', async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const image = await testRunnerImage(docker);
  const allowedPort = await listener(t, '127.0.0.1', 'allowed');
  const loopbackPort = await listener(t, '127.0.0.1', 'host loopback');
  const everywherePort = await listener(t, '0.0.0.0', 'host everywhere');
  const dataDir = path.join(tempDir(t), 'data');
  const server = await startTestServer(
    t,
    { LAZYAF_LAUNCHER: 'docker', LAZYAF_RUNNER_IMAGE: image, LAZYAF_JOB_HOST_PORTS: String(allowedPort) },
    { dataDir, runners: 1, logLevel: 'info' },
  );
  const serverId = fs.readFileSync(path.join(dataDir, 'server_id'), 'utf8').trim();
  t.after(() => removeContainers(docker, { 'lazyaf.server': serverId }));
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));

  // Another container on Docker's default bridge, beside the runner's.
  const neighbour = await docker.createContainer({
    Image: image,
    Entrypoint: ['node', '-e', `require('net').createServer((s) => s.end('neighbour\\n')).listen(7000)`],
    Labels: containerLabels(t, docker),
  });
  await neighbour.start();
  const neighbourAddress = (await neighbour.inspect()).NetworkSettings.Networks.bridge?.IPAddress;
  const address = hostAddress();
  // The outside world, where this machine reaches it (the Debian mirror the image was built from).
  const outside = (await reaches('deb.debian.org', 80)) ? 'deb.debian.org:80' : undefined;
  const targets: Record<string, string> = {
    server: `127.0.0.1:${server.port}`,
    'host-loopback': `127.0.0.1:${loopbackPort}`,
    gateway: `host.docker.internal:${everywherePort}`,
    metadata: '169.254.169.254:80',
    'relay-socket': `/run/lazyaf/host/${server.port}.sock`,
    allowed: `127.0.0.1:${allowedPort}`,
    neighbour: `${neighbourAddress}:7000`,
    ...(address ? { 'host-address': `${address}:${everywherePort}` } : {}),
    ...(outside ? { outside } : {}),
  };
  const job = await submit(server, {
    repo_id: repo.id,
    title: 'looks around the network',
    command: [
      '/usr/sbin/iptables -F OUTPUT; echo "flush exit $?"',
      '/usr/sbin/iptables-legacy -F OUTPUT; echo "legacy flush exit $?"',
      // A namespace of its own, where it would hold NET_ADMIN, is refused too (and would not be this one).
      'unshare -rn true; echo "unshare exit $?"',
      probeCommand(targets),
      'echo done > probed.txt',
    ].join('\n'),
  });
  const done = await waitForJob(server, job.id, ended, SLOW);
  const log = await logOf(server, job.id);
  assert.equal(done.status, 'succeeded', `${done.error ?? ''}\n${log}`);
  const seen = probes(log);
  const why = `${JSON.stringify(seen, null, 1)}\n${log}\n${server.output()}`;
  t.diagnostic(JSON.stringify(seen));

  assert.equal(seen.allowed, 'open allowed', why);
  if (outside) assert.match(seen.outside ?? '', /^open/, why);
  for (const name of ['server', 'host-loopback', 'gateway', 'host-address', 'neighbour'])
    if (targets[name]) assert.doesNotMatch(seen[name] ?? 'unprobed', /^open|^timeout$|unprobed/, `${name}: ${why}`);
  // Refused by a rule at once, not left to time out on the way to a metadata service.
  assert.equal(seen.metadata, 'ECONNREFUSED', why);
  assert.equal(seen['relay-socket'], 'EACCES', why);
  assert.match(log, /^flush exit [1-9]/m, why);
  assert.match(log, /^legacy flush exit [1-9]/m, why);
  assert.match(log, /^unshare exit [1-9]/m, why);
  assert.match(server.output(), /jobs' network: the outside world only \(firewall rules for uid 1000 .*; the host's ports \d+ at 127\.0\.0\.1\)/, why);
});

test("on a Docker network of the user's (LAZYAF_RUNNER_NETWORK), a job still asks Docker's resolver on the container's loopback, and still not the server", async (t) => {
  const docker = await dockerOrSkip(t);
  if (!docker) return;
  const image = await testRunnerImage(docker);
  const networkName = `lazyaf-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const network = await docker.createNetwork({ Name: networkName, Labels: { 'lazyaf.test': networkName } });
  t.after(() => network.remove().catch(() => {}));
  const dataDir = path.join(tempDir(t), 'data');
  const server = await startTestServer(
    t,
    { LAZYAF_LAUNCHER: 'docker', LAZYAF_RUNNER_IMAGE: image, LAZYAF_RUNNER_NETWORK: networkName },
    { dataDir, runners: 1 },
  );
  const serverId = fs.readFileSync(path.join(dataDir, 'server_id'), 'utf8').trim();
  // After-hooks run in the order they were added: the first removal of the network (for a failed
  // start) came before the server stopped, while its container held the network, and every run
  // left one behind until the engine had no address pool left for the next. The server has
  // stopped when this runs, and the network goes once its containers are gone.
  t.after(async () => {
    await removeContainers(docker, { 'lazyaf.server': serverId });
    await network.remove().catch(() => {});
  });
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  // resolve4 asks the resolver itself (not /etc/hosts): Docker's, for the container's own short id.
  const resolve = `node -e 'require("dns").resolve4(require("os").hostname(), (e, a) => console.log("resolved: " + (e ? e.code : a.join(","))))'`;
  const job = await submit(server, {
    repo_id: repo.id,
    title: 'asks the resolver',
    command: `${resolve}\n${probeCommand({ server: `127.0.0.1:${server.port}` })}`,
  });
  const done = await waitForJob(server, job.id, ended, SLOW);
  const log = await logOf(server, job.id);
  assert.equal(done.status, 'succeeded', `${done.error ?? ''}\n${log}`);
  assert.match(log, /^resolved: \d+\.\d+\.\d+\.\d+$/m, log);
  assert.equal(probes(log).server, 'ECONNREFUSED', log);
});
