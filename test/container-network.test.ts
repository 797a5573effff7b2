import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { firewallRules, ownNetworks, sharesHostNetwork, wallJobNetwork, type FirewallPlan } from '../src/runner/container-network.js';
import { resolveRunnerConfig, RunnerConfigError } from '../src/runner/options.js';
import { ConfigError, resolveServerConfig } from '../src/server/config.js';
import { parseHostAddresses, parseJobHostPorts } from '../src/shared/job-network.js';
import { startRelay } from '../src/shared/relay.js';
import { tempDir } from './helpers.js';

test('LAZYAF_JOB_HOST_PORTS: ports from 1 to 65535, comma-separated; anything else is one line naming it, for the server and the runner alike', () => {
  assert.deepEqual(parseJobHostPorts('8787,4000'), [4000, 8787]);
  assert.deepEqual(parseJobHostPorts(' 80 , 80,'), [80]);
  assert.deepEqual(parseJobHostPorts(undefined), []);
  assert.deepEqual(parseJobHostPorts(''), []);
  for (const bad of ['0', '65536', 'abc', '80;rm -rf /', '1e3', '-1', '8080-8090', '0x50', '99999999999']) {
    assert.throws(
      () => parseJobHostPorts(bad),
      (err: Error) => /^LAZYAF_JOB_HOST_PORTS must be ports from 1 to 65535, comma-separated/.test(err.message) && !err.message.includes('\n'),
      bad,
    );
    assert.throws(() => resolveServerConfig({}, { LAZYAF_JOB_HOST_PORTS: bad }), ConfigError, bad);
    assert.throws(() => resolveRunnerConfig({}, { LAZYAF_TOKEN: 't', LAZYAF_JOB_HOST_PORTS: bad }), RunnerConfigError, bad);
  }
  assert.deepEqual(resolveServerConfig({}, { LAZYAF_JOB_HOST_PORTS: '4000' }).jobHostPorts, [4000]);
  assert.deepEqual(resolveRunnerConfig({}, { LAZYAF_TOKEN: 't', LAZYAF_JOB_HOST_PORTS: '4000,8787' }).jobHostPorts, [4000, 8787]);
});

test('LAZYAF_HOST_ADDRESSES: IPv4 and IPv6 addresses or networks; anything else is one line', () => {
  assert.deepEqual(parseHostAddresses(' 192.0.2.2, 2001:db8::1,10.1.0.0/16 '), ['192.0.2.2', '2001:db8::1', '10.1.0.0/16']);
  assert.deepEqual(parseHostAddresses(undefined), []);
  for (const bad of ['host.example', '1.2.3.4/33', '1.2.3.4/8/8', '::1/129', '1.2.3', '-j ACCEPT', '1.2.3.4 -j ACCEPT']) {
    assert.throws(() => parseHostAddresses(bad), { message: /^LAZYAF_HOST_ADDRESSES must be IP addresses/ }, bad);
    assert.throws(() => resolveRunnerConfig({}, { LAZYAF_TOKEN: 't', LAZYAF_HOST_ADDRESSES: bad }), RunnerConfigError, bad);
  }
});

const PLAN: FirewallPlan = {
  uid: 1000,
  allowedPorts: [4000],
  nameservers: ['127.0.0.11', '10.255.255.53', 'fd00::53'],
  deny: ['172.17.0.1', '172.17.0.0/16', '192.0.2.2', '192.0.2.2', '2001:db8::1'],
};

test("the job user's rules: the allowed host ports and the resolvers first, then the loopback, the host, private, link-local and metadata ranges refused", () => {
  const v4 = firewallRules(PLAN, 4).split('\n');
  const job = v4.filter((l) => l.startsWith('-A LAZYAF-JOB '));
  assert.ok(v4.includes('-A OUTPUT -m owner --uid-owner 1000 -j LAZYAF-JOB'), v4.join('\n'));
  assert.deepEqual(job.slice(0, 7), [
    '-A LAZYAF-JOB -o lo -d 127.0.0.1/32 -p tcp --dport 4000 -j RETURN',
    '-A LAZYAF-JOB -o lo -d 127.0.0.11 -j RETURN',
    '-A LAZYAF-JOB -o lo -j REJECT',
    '-A LAZYAF-JOB -d 127.0.0.11 -p udp --dport 53 -j RETURN',
    '-A LAZYAF-JOB -d 127.0.0.11 -p tcp --dport 53 -j RETURN',
    '-A LAZYAF-JOB -d 10.255.255.53 -p udp --dport 53 -j RETURN',
    '-A LAZYAF-JOB -d 10.255.255.53 -p tcp --dport 53 -j RETURN',
  ]);
  for (const refused of ['172.17.0.1', '192.0.2.2', '169.254.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8'])
    assert.equal(job.filter((l) => l === `-A LAZYAF-JOB -d ${refused} -j REJECT`).length, 1, refused);
  assert.ok(!v4.some((l) => l.includes(':db8') || l.includes('fd00')), 'no IPv6 address in the IPv4 table');
  assert.deepEqual(v4.slice(-2), ['COMMIT', '']);

  const v6 = firewallRules(PLAN, 6).split('\n');
  assert.ok(v6.includes('-A LAZYAF-JOB -o lo -j REJECT'));
  assert.ok(v6.includes('-A LAZYAF-JOB -d fd00::53 -p udp --dport 53 -j RETURN'));
  assert.ok(v6.includes('-A LAZYAF-JOB -d 2001:db8::1 -j REJECT'));
  assert.equal(v6.at(-3), '-A LAZYAF-JOB ! -d 2000::/3 -j REJECT', 'all but global unicast refused, last');
  assert.ok(!v6.some((l) => l.includes('--dport 4000') || /\d+\.\d+\.\d+\.\d+/.test(l)), 'no IPv4 in the IPv6 table');
});

test('iptables-restore accepts the rules as written (checked with --test, nothing loaded)', (t) => {
  for (const [file, family] of [
    ['/usr/sbin/iptables-restore', 4],
    ['/usr/sbin/ip6tables-restore', 6],
  ] as const) {
    if (!fs.existsSync(file) || process.getuid?.() !== 0) {
      t.skip(`${file} is missing or this is not root`);
      return;
    }
    const r = spawnSync(file, ['--test'], { input: firewallRules(PLAN, family), encoding: 'utf8' });
    assert.equal(r.status, 0, `${file}: ${r.stderr}`);
  }
});

/** A fake root with the files the runner reads about its network. */
function fakeRoot(dir: string, files: Record<string, string>, interfaces: Record<string, string[]>): string {
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  for (const [name, entries] of Object.entries(interfaces)) {
    fs.mkdirSync(path.join(dir, 'sys/class/net', name), { recursive: true });
    for (const entry of entries) fs.mkdirSync(path.join(dir, 'sys/class/net', name, entry));
  }
  return dir;
}

// As a container on Docker's default bridge sees them.
const ROUTES = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
`;
const ROUTES_V6 = `20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 20010db8000000000000000000000001 00000400 00000001 00000000 00000003     eth0
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
`;

test("the container's gateways and networks, from its routes, are refused to jobs; a host's namespace (a bridge, a device) is told apart from a container's", (t) => {
  const container = fakeRoot(tempDir(t), { 'proc/net/route': ROUTES, 'proc/net/ipv6_route': ROUTES_V6 }, { lo: [], eth0: [] });
  assert.deepEqual(ownNetworks(container), ['172.17.0.1', '172.17.0.0/16', '2001:db8::/64', '2001:db8::1']);
  assert.equal(sharesHostNetwork(container), false);
  assert.equal(sharesHostNetwork(fakeRoot(tempDir(t), {}, { lo: [], eth0: ['device'], docker0: ['bridge'] })), true);
  assert.equal(sharesHostNetwork(fakeRoot(tempDir(t), {}, { lo: [], br0: ['bridge'] })), true);
  assert.equal(sharesHostNetwork(tempDir(t)), true, 'nothing to tell by: the cautious answer');
});

test('the runner says in one line what its jobs reach when it cannot wall them: on the host network, without NET_ADMIN', async (t) => {
  const opts = { uid: 1000, server: 'http://127.0.0.1:8000', jobHostPorts: [], hostAddresses: [] };
  const onHost = await wallJobNetwork(opts, fakeRoot(tempDir(t), {}, { lo: [], eth0: ['device'] }));
  assert.match(onHost.line, /^WARNING: jobs share the host's network .*--cap-add NET_ADMIN$/);
  const status = 'Name:\tnode\nCapEff:\t00000000a80425fb\n'; // Docker's default set: no NET_ADMIN (bit 12)
  const bare = await wallJobNetwork(opts, fakeRoot(tempDir(t), { 'proc/self/status': status }, { lo: [], eth0: [] }));
  assert.match(bare.line, /^WARNING: jobs' network is not walled \(this container lacks the NET_ADMIN capability\): .*--cap-add NET_ADMIN/);
  for (const line of [onHost.line, bare.line]) assert.ok(!line.includes('\n'));
  await Promise.all([onHost.close(), bare.close()]);
});

test('a relay joins a TCP port to a unix socket and back, passes half-closes on, and cuts its connections when closed', async (t) => {
  const dir = tempDir(t);
  // An upstream that answers once the client has finished sending: the half-close must come through.
  const upstream = net.createServer({ allowHalfOpen: true }, (socket) => {
    let got = '';
    socket.on('data', (d) => (got += d));
    socket.on('end', () => socket.end(`heard ${got}`));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => upstream.close());
  const port = (upstream.address() as net.AddressInfo).port;
  const socketPath = path.join(dir, `${port}.sock`);
  const inner = await startRelay({ path: socketPath }, { host: '127.0.0.1', port });
  const outer = await startRelay({ host: '127.0.0.1', port: 0 }, { path: socketPath });
  const outerPort = (outer.address as net.AddressInfo).port;
  const ask = (to: net.NetConnectOpts) =>
    new Promise<string>((resolve, reject) => {
      const c = net.connect({ ...to, allowHalfOpen: true });
      let said = '';
      c.on('data', (d) => (said += d));
      c.on('end', () => resolve(said));
      c.on('error', reject);
      c.end('hello');
    });
  assert.equal(await ask({ host: '127.0.0.1', port: outerPort }), 'heard hello');
  assert.equal(await ask({ path: socketPath }), 'heard hello');

  // A connection held open through both relays is cut when they close.
  const held = net.connect({ host: '127.0.0.1', port: outerPort });
  await new Promise((resolve) => held.on('connect', resolve));
  const cut = new Promise((resolve) => held.on('close', resolve));
  await Promise.all([inner.close(), outer.close()]);
  await cut;
  await assert.rejects(ask({ path: socketPath }), /ENOENT|ECONNREFUSED/);
  await assert.rejects(ask({ host: '127.0.0.1', port: outerPort }), /ECONNREFUSED/);
});
