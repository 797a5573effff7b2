import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { blockedDestinations, jobResolver, JobNetwork } from '../src/runner/job-network.js';
import { resolveRunnerConfig } from '../src/runner/options.js';
import { Sandbox } from '../src/runner/sandbox.js';
import { resolveServerConfig } from '../src/server/config.js';
import { parseJobHostPorts } from '../src/shared/job-network.js';
import { CLI, eventually, ROOT, run, spawnChild, startTestServer, tempDir, waitForOutput } from './helpers.js';
import { processesMatching, runJob, seedRepo, startRunnerProcess, submit } from './queue-helpers.js';

// What a job on a process runner reaches on the network: real bubblewrap, real pasta, real connections.

/** The job network must work where CI runs (it installs passt); elsewhere these tests say why they skip. */
function jobNetwork(t: TestContext, hostPorts: number[] = []): JobNetwork | undefined {
  const located = JobNetwork.locate(hostPorts);
  const bwrap = spawnSync('bwrap', ['--ro-bind', '/', '/', '--unshare-net', 'true']);
  const why = 'problem' in located ? located.problem : bwrap.status !== 0 ? 'bwrap cannot run here' : undefined;
  if (why === undefined) return located as JobNetwork;
  if (process.env.CI) throw new Error(`jobs cannot get their own network here: ${why}`);
  t.skip(`no job network here (${why})`);
  return undefined;
}

/** A TCP listener that greets whoever connects with `hello <name>`. */
async function listener(t: TestContext, name: string, host: string): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {}); // A client that resets is no failure of the listener.
    socket.end(`hello ${name}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.after(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

/** Connects to each `name=host:port` at once and prints `TARGET name REACHED <greeting>|REACHED silent|FAILED <why> <ms>`. */
const PROBE = `const net = require('node:net');
for (const target of process.argv.slice(2)) {
  const [name, address] = target.split('=');
  const at = address.lastIndexOf(':');
  const started = Date.now();
  const socket = net.connect({ host: address.slice(0, at), port: Number(address.slice(at + 1)) });
  let got = '';
  let said = false;
  const say = (what) => {
    if (said) return;
    said = true;
    socket.destroy();
    console.log('TARGET ' + name + ' ' + what + ' ' + (Date.now() - started));
  };
  // A server that waits for the client to speak first (HTTP) was reached all the same.
  socket.setTimeout(3000, () => say(socket.connecting ? 'FAILED timeout' : 'REACHED silent'));
  socket.on('data', (chunk) => { got += chunk; if (got.includes('\\n')) say('REACHED ' + got.trim()); });
  socket.on('error', (err) => say('FAILED ' + err.code));
  socket.on('end', () => say(got ? 'REACHED ' + got.trim() : 'FAILED closed'));
}
`;

/** What each target gave: `REACHED hello x` or `FAILED <code>`, and how long it took. */
function targets(log: string): Map<string, { result: string; ms: number }> {
  return new Map([...log.matchAll(/^TARGET (\S+) (.+) (\d+)$/gm)].map((m) => [m[1]!, { result: m[2]!, ms: Number(m[3]) }]));
}

/**
 * This machine's own addresses off the loopback, as `ip` lists them (interfaces that are down too),
 * as the job names them and as the host does: a link-local one with the interface it is on, which
 * inside the job is pasta's (named after the host's interface with the default route).
 */
function hostAddresses(): { inJob: string; onHost: string }[] {
  const ip = (args: string[]) => JSON.parse(spawnSync('ip', ['-j', ...args], { encoding: 'utf8' }).stdout) as unknown;
  const links = ip(['addr', 'show']) as { ifname: string; addr_info: { local: string; scope: string }[] }[];
  const jobIf = (ip(['route', 'show', 'default']) as { dev: string }[])[0]?.dev ?? 'eth0';
  return links.flatMap((link) =>
    link.addr_info
      .filter((a) => a.scope !== 'host')
      .map((a) => (a.scope === 'link' ? { inJob: `${a.local}%${jobIf}`, onHost: `${a.local}%${link.ifname}` } : { inJob: a.local, onHost: a.local })),
  );
}

test('a job reaches neither the lazyaf server nor anything else of the host, only the ports LAZYAF_JOB_HOST_PORTS names; it cannot open the rest', async (t) => {
  if (!jobNetwork(t)) return;
  const server = await startTestServer(t);
  const serverPort = Number(new URL(server.url).port);
  const database = await listener(t, 'database', '127.0.0.1');
  const gateway = await listener(t, 'gateway', '127.0.0.1');
  const wide = await listener(t, 'wide', '::');
  const addresses = hostAddresses();
  assert.ok(addresses.length > 0, 'this machine has an address off the loopback');
  const runner = startRunnerProcess(t, server, 'walled', tempDir(t), ['--sandbox', 'require'], { LAZYAF_JOB_HOST_PORTS: `${gateway}` });

  const repo = await seedRepo(server, tempDir(t), 'net', { 'probe.cjs': PROBE });
  const reach = [
    `server=127.0.0.1:${serverPort}`,
    `database=127.0.0.1:${database}`,
    `database6=::1:${database}`,
    `gateway=127.0.0.1:${gateway}`,
    'metadata=169.254.169.254:80',
    'metadata6=fd00:ec2::254:80',
    ...addresses.map((a, i) => `host${i}=${a.inJob}:${wide}`),
  ];
  const command = [
    `node probe.cjs ${reach.join(' ')}`,
    'ip rule del to 169.254.0.0/16 prohibit && echo REMOVED a rule',
    'ip rule flush && echo FLUSHED the rules',
    'ip -6 rule flush && echo FLUSHED the IPv6 rules',
    `node probe.cjs metadata-again=169.254.169.254:80 ${addresses.map((a, i) => `host${i}-again=${a.inJob}:${wide}`).join(' ')}`,
  ].join('\n');
  const { log, ...job } = await runJob(server, { repo_id: repo.id, title: 'reach out', command });
  assert.equal(job.status, 'succeeded', log);
  const seen = targets(log);
  for (const name of ['server', 'database', 'database6', 'metadata', 'metadata6', 'metadata-again'])
    assert.match(seen.get(name)?.result ?? 'missing', /^FAILED/, `${name}: ${log}`);
  assert.equal(seen.get('gateway')?.result, 'REACHED hello gateway', log);
  addresses.forEach((a, i) => {
    for (const name of [`host${i}`, `host${i}-again`]) assert.match(seen.get(name)?.result ?? 'missing', /^FAILED/, `${name} (${a.inJob}): ${log}`);
  });
  // Refused at once, inside the job's namespace: nothing was left to time out on its way out.
  for (const [name, { ms }] of seen) assert.ok(ms < 2000, `${name} ended within 2 s: ${log}`);
  assert.doesNotMatch(log, /REMOVED|FLUSHED/, 'the job cannot change its rules');
  assert.match(log, /RTNETLINK answers: Operation not permitted/);
  assert.match(runner.output(), new RegExp(`jobs: own network \\(pasta\\), outbound only; closed: the host's loopback \\(except ports ${gateway}\\)`));

  // The listener on every address does answer from the host: the job's failures are its wall's.
  const fromHost = await run(process.execPath, ['-e', PROBE, ...addresses.map((a, i) => `host${i}=${a.onHost}:${wide}`)]);
  for (const [name, { result }] of targets(fromHost.stdout)) assert.equal(result, 'REACHED hello wide', `${name} from the host`);
});

/** The pids of `sleep <marker>` itself: the job's command, not a wrapper carrying it in its arguments. */
function sleeping(marker: string): number[] {
  return processesMatching(`sleep ${marker}`).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep';
    } catch {
      return false;
    }
  });
}

test('a runner SIGKILLed mid-job takes its job with it, through pasta, also while pasta sets the network up', async (t) => {
  if (!jobNetwork(t)) return;
  const server = await startTestServer(t);
  const repo = await seedRepo(server, tempDir(t), 'doomed');
  // pasta's children waiting for it while it sets the namespace up outlived a runner killed then.
  for (const moment of ['setup', 'running'] as const) {
    const runner = startRunnerProcess(t, server, `doomed-${moment}`, tempDir(t), ['--sandbox', 'require']);
    const marker = String(900000 + Math.floor(Math.random() * 99999));
    await submit(server, { repo_id: repo.id, title: `sleeper ${moment}`, command: `sleep ${marker}` });
    if (moment === 'setup') {
      // The wrappers, then pasta and its children, carry the command in their arguments: kill at the first of them.
      for (const deadline = Date.now() + 30_000; processesMatching(`sleep ${marker}`).length === 0;) {
        assert.ok(Date.now() < deadline, `timed out waiting for the job to start: ${runner.output()}`);
        await new Promise((r) => setImmediate(r));
      }
    } else {
      await eventually('the job to start', async () => sleeping(marker).length > 0);
    }
    runner.child.kill('SIGKILL');
    await eventually(
      () => `pasta, bubblewrap and the job to be gone (killed at ${moment}): ${processesMatching(`sleep ${marker}`).join(', ')} left`,
      async () => processesMatching(`sleep ${marker}`).length === 0,
      10_000,
    );
  }
});

test("pasta's namespace starts nothing once the unshare that made it is no longer the runner's child", async (t) => {
  if (!jobNetwork(t)) return;
  // What a runner killed between the unshare's fork and its child's death signal left: pasta and
  // the job, their parent gone. Here the unshare leaves its parent at once instead, every time.
  const dir = tempDir(t);
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const realUnshare = spawnSync('sh', ['-c', 'PATH="$PATH:/usr/sbin:/sbin" command -v unshare'], { encoding: 'utf8' }).stdout.trim();
  // The one that makes pasta's pid namespace; the one in it, for bubblewrap's /proc, as it is.
  const shim = `#!/bin/sh\ncase " $* " in *" --pid "*) ${realUnshare} "$@" & ;; *) exec ${realUnshare} "$@" ;; esac\n`;
  fs.writeFileSync(path.join(bin, 'unshare'), shim, { mode: 0o755 });
  const network = JobNetwork.locate([], `${bin}:${process.env.PATH}`);
  assert.ok(!('problem' in network), 'problem' in network ? network.problem : '');
  const marker = String(700000 + Math.floor(Math.random() * 99999));
  // Where the check fails, what it let start would outlive the test.
  t.after(() => {
    for (const pid of processesMatching(`sleep ${marker}`)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  });
  const [cmd, ...args] = network.wrap(['sh', '-c', `touch ${dir}/started; exec sleep ${marker}`]);
  assert.equal(spawnSync(cmd!, args, { stdio: 'ignore' }).status, 0);
  // The orphaned unshare (its command line carries the job's) and its child end at once; a pasta would stay for ever.
  await eventually(
    () => `the orphaned unshare and all it started to end: ${processesMatching(`sleep ${marker}`).join(', ')} left`,
    async () => processesMatching(`sleep ${marker}`).length === 0,
    10_000,
  );
  assert.ok(!fs.existsSync(path.join(dir, 'started')), 'the job never starts');
});

test("the server's pool runners take LAZYAF_JOB_HOST_PORTS from its environment", async (t) => {
  if (!jobNetwork(t)) return;
  const data = path.join(tempDir(t), 'data');
  const server = await startTestServer(t, { LAZYAF_JOB_HOST_PORTS: '8787,4321' }, { dataDir: data, runners: 1, logLevel: 'info' });
  await eventually('the pool runner to say what network its jobs get', async () =>
    /jobs: own network \(pasta\), outbound only; closed: the host's loopback \(except ports 4321,8787\)/.test(server.output()),
  );
});

test("git reading a job's repository gets no network at all: only a loopback of its own", (t) => {
  const network = jobNetwork(t);
  if (!network) return;
  const dir = tempDir(t);
  const sandbox = new Sandbox({ hide: [], network });
  const inside = (argv: string[], withNetwork: boolean) => {
    const [cmd, ...args] = sandbox.wrap(argv, { workspace: dir, network: withNetwork });
    return spawnSync(cmd!, args, { encoding: 'utf8' });
  };
  const links = (withNetwork: boolean) =>
    inside(['sh', '-c', "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"], withNetwork).stdout.split('\n').filter(Boolean).sort();
  assert.deepEqual(links(false), ['lo']);
  assert.equal(links(true).length, 2, "the job's command has pasta's interface besides its loopback");
  const [cmd] = sandbox.wrap(['true'], { workspace: dir });
  assert.ok(cmd!.endsWith('bwrap'), 'no pasta for a command without network');
});

test('LAZYAF_JOB_HOST_PORTS: ports from 1 to 65535, comma-separated; anything else is one line at the start of the runner and the server', async (t) => {
  assert.deepEqual(parseJobHostPorts(undefined), []);
  assert.deepEqual(parseJobHostPorts(''), []);
  assert.deepEqual(parseJobHostPorts(' 8787, 4000,8787 '), [4000, 8787]);
  for (const bad of ['0', '65536', 'http', '80-90', '8787;4000', '-1', '1e3', '08787x'])
    assert.throws(
      () => parseJobHostPorts(bad),
      /^Error: LAZYAF_JOB_HOST_PORTS must be ports from 1 to 65535, comma-separated \(such as 8787,4000\), got "/,
      bad,
    );
  const env = { LAZYAF_TOKEN: 'lzreg_x', LAZYAF_JOB_HOST_PORTS: '8787,99999' };
  assert.throws(() => resolveRunnerConfig({}, env), /LAZYAF_JOB_HOST_PORTS must be ports from 1 to 65535/);
  assert.deepEqual(resolveRunnerConfig({}, { ...env, LAZYAF_JOB_HOST_PORTS: '4000' }).jobHostPorts, [4000]);
  assert.throws(() => resolveServerConfig({ data: tempDir(t) }, env), /LAZYAF_JOB_HOST_PORTS must be ports from 1 to 65535/);

  const runner = await run(process.execPath, [CLI, 'runner', '--workdir', path.join(tempDir(t), 'w')], { env: { ...process.env, ...env } });
  assert.notEqual(runner.code, 0);
  assert.equal(runner.stderr.trim().split('\n').length, 1, runner.stderr);
  assert.match(runner.stderr, /LAZYAF_JOB_HOST_PORTS must be ports from 1 to 65535, comma-separated \(such as 8787,4000\), got "8787,99999"/);
  const server = await run(process.execPath, [CLI, 'server', '--port', '0', '--data', tempDir(t)], { env: { ...process.env, ...env } });
  assert.notEqual(server.code, 0);
  assert.equal(server.stderr.trim().split('\n').length, 1, server.stderr);
  assert.match(server.stderr, /LAZYAF_JOB_HOST_PORTS must be ports/);
});

test("a runner whose jobs cannot get their own network: --sandbox require refuses to start, the default says loudly that jobs share the host's", async (t) => {
  if (!jobNetwork(t)) return;
  const dir = tempDir(t);
  const fakeBin = path.join(dir, 'bin');
  fs.mkdirSync(fakeBin);
  fs.writeFileSync(
    path.join(fakeBin, 'pasta'),
    '#!/bin/sh\necho "Failed to send 40 bytes to syslog" >&2\necho "Failed to open tun socket in namespace" >&2\nexit 1\n',
    { mode: 0o755 },
  );
  const env = { ...process.env, PATH: `${fakeBin}:${process.env.PATH}`, LAZYAF_TOKEN: 'lzreg_unused' };
  const server = 'http://127.0.0.1:9'; // never reached: the walls are set up before registering

  const strict = await run(process.execPath, [CLI, 'runner', '--server', server, '--workdir', path.join(dir, 'w1'), '--sandbox', 'require'], { env });
  assert.notEqual(strict.code, 0);
  assert.match(
    strict.stderr,
    /cannot give jobs a network of their own: Failed to open tun socket in namespace; let the runner's user \(uid 0\) open \/dev\/net\/tun \(it is mode \d{4}, owner uid \d+; most hosts have it 0666\), or run the runner as root, or pass --sandbox auto/,
  );

  const lenient = spawnChild(t, process.execPath, [CLI, 'runner', '--server', server, '--workdir', path.join(dir, 'w2')], { env });
  await waitForOutput(lenient, /WARNING: jobs share this machine's network \(Failed to open tun socket in namespace\): a job reaches the lazyaf server/);
});

test("the host's addresses a job must not reach come from the kernel's lists, down interfaces included; the metadata ranges always", () => {
  const fibTrie = [
    'Main:',
    '  +-- 0.0.0.0/0 3 0 4',
    '     +-- 127.0.0.0/8 2 0 2',
    '           |-- 127.0.0.1',
    '              /32 host LOCAL',
    '              |-- 172.17.0.1',
    '                 /32 host LOCAL',
    '           |-- 172.17.255.255',
    '              /32 link BROADCAST',
    '           |-- 10.0.0.0',
    '              /8 host LOCAL',
  ].join('\n');
  const ifInet6 = ['00000000000000000000000000000001 01 80 10 80       lo', 'fe8000000000000000425afffe6b4896 05 40 20 80  docker0'].join('\n');
  const up = { eth0: [{ address: '192.0.2.2', family: 'IPv4', internal: false } as never, { address: 'fd00::2', family: 'IPv6', internal: false } as never] };
  assert.deepEqual(blockedDestinations(fibTrie, ifInet6, up), [
    '169.254.0.0/16',
    '172.17.0.1/32',
    '10.0.0.0/8',
    '192.0.2.2/32',
    'fd00:ec2::254/128',
    'fe80::42:5aff:fe6b:4896/128',
    'fd00::2/128',
  ]);
  // Without IPv6 on the host, no IPv6 route (the kernel would refuse it, and the job with it).
  assert.deepEqual(blockedDestinations('', '', {}), ['169.254.0.0/16']);
});

test("systemd-resolved's stub on the host's loopback: jobs see its upstream servers instead, or the runner says names will not resolve", (t) => {
  const dir = tempDir(t);
  const file = (name: string, text: string) => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  const stub = file('stub', '# systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\n');
  const upstream = file('upstream', 'nameserver 192.0.2.53\nnameserver 2001:db8::53\n');
  assert.deepEqual(jobResolver(file('plain', 'nameserver 192.0.2.1\n'), upstream), {});
  assert.deepEqual(jobResolver(stub, upstream), { resolvConf: upstream });
  assert.match(
    jobResolver(stub, path.join(dir, 'none')).problem!,
    /names only resolvers on this machine's loopback \(127\.0\.0\.53\), which jobs cannot reach/,
  );

  const network = new JobNetwork([], { pasta: 'pasta', ip: 'ip', setpriv: 'setpriv', unshare: 'unshare', isRoot: true }, jobResolver(stub, upstream));
  const argv = new Sandbox({ hide: [], network }).wrap(['true'], { workspace: dir, network: true });
  const bwrap = argv.slice(argv.indexOf('sh') + 1);
  assert.deepEqual(bwrap.slice(bwrap.indexOf('--share-net'), bwrap.indexOf('--share-net') + 4), ['--share-net', '--ro-bind', upstream, '/etc/resolv.conf']);
});

/**
 * Outbound, for real, with no internet here: a machine of our own (a network namespace) whose only
 * way out is a veth to a "world" namespace, which answers DNS and TCP. The runner's side of the
 * job network runs on that machine, which has a listener on its loopback and its own address.
 */
test('a job reaches the world: names resolve through the resolver the host names, and a TCP server out there answers', async (t) => {
  if (!jobNetwork(t)) return;
  if (process.getuid?.() !== 0) return t.skip('making network namespaces and a veth needs root');
  const dir = tempDir(t);
  fs.writeFileSync(
    path.join(dir, 'world.cjs'),
    `const net = require('node:net');
const dgram = require('node:dgram');
net.createServer((s) => s.end('hello world\\n')).listen(8080, '0.0.0.0');
// Every A question gets 198.51.100.7: the header, the question as asked, one answer pointing at it.
const dns = dgram.createSocket('udp4');
dns.on('message', (q, from) => {
  let end = 12;
  while (q[end] !== 0) end += q[end] + 1;
  const question = q.subarray(12, end + 5);
  const header = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 51, 100, 7]);
  dns.send(Buffer.concat([header, question, answer]), from.port, from.address);
});
dns.bind(53, '0.0.0.0');
`,
  );
  fs.writeFileSync(
    path.join(dir, 'job.mts'),
    `import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { JobNetwork } from ${JSON.stringify(path.join(ROOT, 'src/runner/job-network.ts'))};
import { Sandbox } from ${JSON.stringify(path.join(ROOT, 'src/runner/sandbox.ts'))};
for (const [port, host] of [[9090, '127.0.0.1'], [9091, '0.0.0.0']]) net.createServer((s) => s.end('hello host\\n')).listen(port, host);
const network = JobNetwork.locate([]);
if (!(network instanceof JobNetwork)) throw new Error(network.problem);
const [cmd, ...args] = new Sandbox({ hide: [], network }).wrap(['sh', '-c', process.argv[2]], { workspace: process.argv[3], network: true });
const job = spawnSync(cmd, args, { encoding: 'utf8' });
process.stdout.write(job.stdout + job.stderr);
process.exit(job.status ?? 1);
`,
  );
  fs.writeFileSync(path.join(dir, 'probe.cjs'), PROBE);
  fs.writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 10.77.0.1\n');
  const job = [
    'getent hosts outside.test',
    // The world by name; the loopback of the machine the runner is on, and its own address; the
    // gateway's address at the loopback's port, which pasta would lead to that loopback.
    `node ${dir}/probe.cjs world=outside.test:8080 loopback=127.0.0.1:9090 own=10.77.0.2:9091 gateway=10.77.0.1:9090`,
  ].join('\n');
  // The machine: lo up, the world at the other end of a veth, its default route, its resolver.
  const machine = `set -e
ip link set lo up
unshare --net -- sh -c 'ip link set lo up; exec "$0" "$1"' "${process.execPath}" "${dir}/world.cjs" &
world=$!
trap 'kill $world' EXIT
while [ "$(readlink /proc/$world/ns/net)" = "$(readlink /proc/self/ns/net)" ]; do sleep 0.01; done
ip link add lzh type veth peer name lzw netns $world
ip addr add 10.77.0.2/24 dev lzh
ip link set lzh up
nsenter --net=/proc/$world/ns/net sh -c 'ip addr add 10.77.0.1/24 dev lzw && ip link set lzw up && ip addr add 198.51.100.7/32 dev lo'
ip route add default via 10.77.0.1
mount --bind "${dir}/resolv.conf" /etc/resolv.conf
sleep 0.3
"${process.execPath}" --import tsx "${dir}/job.mts" "$1" "${dir}"
`;
  const result = await run('unshare', ['--net', '--mount', '--', 'sh', '-c', machine, 'sh', job], { cwd: ROOT });
  const log = result.stdout + result.stderr;
  assert.equal(result.code, 0, log);
  assert.match(log, /^198\.51\.100\.7\s+outside\.test$/m, 'the name resolved through the resolver in /etc/resolv.conf');
  const seen = targets(log);
  assert.equal(seen.get('world')?.result, 'REACHED hello world', log);
  for (const name of ['loopback', 'own', 'gateway']) assert.match(seen.get(name)?.result ?? 'missing', /^FAILED/, `${name}: ${log}`);
});
