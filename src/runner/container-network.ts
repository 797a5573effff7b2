import { spawn } from 'node:child_process';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { HOST_RELAY_DIR, relaySocket } from '../shared/job-network.js';
import { startRelay, type Relay } from '../shared/relay.js';

/**
 * The network wall of a runner container's jobs: they reach the outside world, not the Docker host
 * (its loopback, its addresses, the lazyaf server) nor private, link-local or metadata addresses.
 *
 * How: the container has a network namespace of its own (a Docker bridge, not `--network host`)
 * and the capability NET_ADMIN, which reaches no further than that namespace. The runner, root,
 * sets firewall rules there that match the job user's uid (`-m owner --uid-owner`): every packet a
 * job's process sends goes through them, the runner's own (registration, git) do not. The job
 * user cannot change them: it has no capabilities and cannot gain any (job-user.ts: setpriv with an
 * empty bounding set and no_new_privs), and Docker's seccomp profile refuses it the user namespace
 * in which it could hold NET_ADMIN over a namespace of its own (which would not be this one anyway).
 *
 * Why not a namespace per job (pasta, as process runners have): making one inside a container
 * takes CAP_SYS_ADMIN or a seccomp profile that allows user namespaces, both far broader than
 * NET_ADMIN in the container's own namespace, and pasta would still reach the host's addresses.
 *
 * The server and the host ports a job may use (LAZYAF_JOB_HOST_PORTS) come in as unix sockets in
 * HOST_RELAY_DIR (server/pool/host-relay.ts); the runner relays each to the same port on the
 * container's loopback, so http://127.0.0.1:<port> means the same inside as on the host. The rules
 * let the job user reach those of LAZYAF_JOB_HOST_PORTS and no other port on the loopback; the
 * folder's parent is root's alone (0700), so a job cannot open the sockets either.
 *
 * Not covered: the host's public addresses when the runner is not told them (LAZYAF_HOST_ADDRESSES,
 * which the docker launcher sets); a name that resolves to the server later than at start; IPv6
 * when the container has it but ip6tables cannot set rules (said at start).
 */

/** Ranges no job may reach: this host, its networks, metadata services, multicast. */
const DENIED_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10', // carrier-grade NAT, and the addresses of Tailscale and its like
  '127.0.0.0/8',
  '169.254.0.0/16', // link-local: cloud metadata (169.254.169.254) among them
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/3', // multicast, reserved and broadcast
];
/** IPv6 outside global unicast (loopback, link-local, unique local, multicast, mapped) is refused as a whole. */
const GLOBAL_V6 = '2000::/3';

/** The chain of the job user's rules. */
const CHAIN = 'LAZYAF-JOB';

export interface FirewallPlan {
  uid: number;
  /** Ports on the container's loopback the job may reach: the runner's relays of LAZYAF_JOB_HOST_PORTS. */
  allowedPorts: number[];
  /** The resolvers of /etc/resolv.conf: reachable on port 53 even where they are private. */
  nameservers: string[];
  /** Addresses or networks refused besides the ranges above: the gateway, this container's networks, the host's addresses, the server. */
  deny: string[];
}

/** The filter table for `iptables-restore` (family 4) or `ip6tables-restore` (6): it replaces that table of this namespace only. */
export function firewallRules(plan: FirewallPlan, family: 4 | 6): string {
  const mine = (address: string) => (net.isIP(address.split('/')[0]!) === family ? [address] : []);
  const job = (rule: string) => `-A ${CHAIN} ${rule}`;
  const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', `:${CHAIN} - [0:0]`];
  lines.push(`-A OUTPUT -m owner --uid-owner ${plan.uid} -j ${CHAIN}`);
  const nameservers = plan.nameservers.flatMap(mine);
  if (family === 4) {
    for (const port of plan.allowedPorts) lines.push(job(`-o lo -d 127.0.0.1/32 -p tcp --dport ${port} -j RETURN`));
    // Docker's own resolver on a user-defined network (127.0.0.11): its port is translated before these rules see it.
    for (const ns of nameservers) if (ns.startsWith('127.')) lines.push(job(`-o lo -d ${ns} -j RETURN`));
  }
  lines.push(job('-o lo -j REJECT'));
  for (const ns of nameservers) for (const proto of ['udp', 'tcp']) lines.push(job(`-d ${ns} -p ${proto} --dport 53 -j RETURN`));
  for (const address of new Set(plan.deny.flatMap(mine))) lines.push(job(`-d ${address} -j REJECT`));
  if (family === 4) for (const range of DENIED_V4) lines.push(job(`-d ${range} -j REJECT`));
  else lines.push(job(`! -d ${GLOBAL_V6} -j REJECT`));
  lines.push('COMMIT', '');
  return lines.join('\n');
}

export interface ContainerNetworkOptions {
  /** The job user's uid. */
  uid: number;
  /** The runner's server URL: relayed when it is on the loopback, refused to jobs wherever it is. */
  server: string;
  jobHostPorts: number[];
  hostAddresses: string[];
}

export interface ContainerNetwork {
  /** The one line the runner says at start about its jobs' network. */
  line: string;
  /** Stops the relays. */
  close(): Promise<void>;
}

/** Sets up the relays and the firewall; never throws: what could not be done is in `line`, as a warning. */
export async function wallJobNetwork(opts: ContainerNetworkOptions, root = '/'): Promise<ContainerNetwork> {
  if (sharesHostNetwork(root))
    return {
      line: "WARNING: jobs share the host's network (this container runs with --network host): a job reaches everything on the host's loopback (the lazyaf server, databases, a Docker API) and the cloud metadata address. To fix: run it on a network of its own (no --network host) with --cap-add NET_ADMIN",
      close: async () => {},
    };
  const server = new URL(opts.server);
  const serverPort = Number(server.port || (server.protocol === 'https:' ? 443 : 80));
  const serverOnLoopback = isLoopbackHost(server.hostname);
  const relayed = await relay(root, [...(serverOnLoopback ? [serverPort] : []), ...opts.jobHostPorts.filter((p) => p !== serverPort || !serverOnLoopback)]);
  const close = () => Promise.all(relayed.relays.map((r) => r.close())).then(() => {});
  const reachable = opts.jobHostPorts.filter((p) => relayed.ports.includes(p));
  const plan: FirewallPlan = {
    uid: opts.uid,
    allowedPorts: reachable,
    nameservers: nameserversOf(path.join(root, 'etc/resolv.conf')),
    deny: [...ownNetworks(root), ...opts.hostAddresses, ...(serverOnLoopback ? [] : await addressesOf(server.hostname))],
  };
  const problem = await applyFirewall(plan, root);
  const unrelayed = opts.jobHostPorts.filter((p) => !reachable.includes(p));
  const ports = [
    ...(reachable.length > 0 ? [`the host's ports ${reachable.join(', ')} at 127.0.0.1`] : []),
    ...(unrelayed.length > 0 ? [`not the host's ports ${unrelayed.join(', ')} (${relayed.problem ?? 'no relay'})`] : []),
  ];
  if (problem)
    return {
      line: `WARNING: jobs' network is not walled (${problem}): a job reaches whatever this container reaches, the Docker host included. To fix: run it with --cap-add NET_ADMIN on a network of its own`,
      close,
    };
  return {
    line: `jobs' network: the outside world only (firewall rules for uid ${opts.uid} in this container's own network namespace: not its loopback, the server, the Docker host, private, link-local or metadata addresses${ports.length > 0 ? `; ${ports.join('; ')}` : ''})`,
    close,
  };
}

/**
 * The host's network namespace, shared with `--network host`, shows a bridge (docker0) or a
 * device-backed interface; a container's own has only virtual ones (veth, macvlan). Rules set
 * there would be the host's, for every process of that uid on it: the runner never sets them.
 */
export function sharesHostNetwork(root = '/'): boolean {
  const dir = path.join(root, 'sys/class/net');
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return true; // Nothing to tell by: take the cautious answer.
  }
  return names.some((name) => fs.existsSync(path.join(dir, name, 'bridge')) || fs.existsSync(path.join(dir, name, 'device')));
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]';
}

/** Relays the ports that have a socket folder to the container's loopback; which ones it could, and why not the others. */
async function relay(root: string, ports: number[]): Promise<{ relays: Relay[]; ports: number[]; problem?: string }> {
  const dir = path.join(root, HOST_RELAY_DIR);
  if (ports.length === 0) return { relays: [], ports: [] };
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return { relays: [], ports: [], problem: `no relay folder at ${HOST_RELAY_DIR}` };
  // The folder's parent keeps the job user away from the sockets, whatever the host's folder
  // allows: a job that could open them would reach the server past every rule.
  const parent = path.dirname(dir);
  try {
    fs.chownSync(parent, 0, 0);
    fs.chmodSync(parent, 0o700);
  } catch {
    // Checked below: the image made it so already, or nothing is relayed.
  }
  const st = fs.lstatSync(parent);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o077) !== 0)
    return { relays: [], ports: [], problem: `${parent} is open to jobs (not a folder only root may enter), so nothing is relayed through it` };
  const relays: Relay[] = [];
  const done: number[] = [];
  let problem: string | undefined;
  for (const port of ports) {
    try {
      relays.push(await startRelay({ host: '127.0.0.1', port }, { path: relaySocket(dir, port) }));
      done.push(port);
    } catch (err) {
      problem = `cannot relay port ${port}: ${(err as Error).message}`;
    }
  }
  return { relays, ports: done, problem };
}

/** A file's text; '' when it cannot be read (a kernel without IPv6 has no ipv6_route). */
function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The resolvers of resolv.conf. */
function nameserversOf(file: string): string[] {
  return [...readText(file).matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!.split('%')[0]!).filter((a) => net.isIP(a) !== 0);
}

/** The gateways and networks of this container's routes (IPv4 and IPv6): the Docker host and the other containers beside it. */
export function ownNetworks(root = '/'): string[] {
  const out: string[] = [];
  const read = (file: string) => readText(path.join(root, file)).split('\n');
  // /proc/net/route: Iface Destination Gateway Flags ... Mask, addresses in little-endian hex.
  for (const line of read('proc/net/route').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[0] === 'lo') continue;
    const [dest, gateway, mask] = [hexV4(f[1]!), hexV4(f[2]!), hexV4(f[7]!)];
    if (gateway !== '0.0.0.0') out.push(gateway);
    if (dest !== '0.0.0.0') out.push(`${dest}/${prefixOf(mask)}`);
  }
  // /proc/net/ipv6_route: dest, dest prefix, source, source prefix, next hop, metric, refs, use, flags, iface (hex, big-endian).
  for (const line of read('proc/net/ipv6_route')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[9] === 'lo') continue;
    const [dest, destBits, hop] = [hexV6(f[0]!), parseInt(f[1]!, 16), hexV6(f[4]!)];
    if (hop !== '::') out.push(hop);
    if (destBits > 0 && !dest.startsWith('fe80:') && !dest.startsWith('ff')) out.push(`${dest}/${destBits}`);
  }
  return [...new Set(out)];
}

function hexV4(hex: string): string {
  const n = parseInt(hex, 16) >>> 0;
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.');
}

function prefixOf(mask: string): number {
  return mask.split('.').reduce((bits, octet) => bits + Number(octet).toString(2).replace(/0/g, '').length, 0);
}

function hexV6(hex: string): string {
  const groups = hex.match(/.{4}/g)?.map((g) => parseInt(g, 16).toString(16)) ?? [];
  // Through the URL parser: it writes an address in its short form (the longest run of zeros as ::).
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}

/** The addresses a name resolves to now; a literal address as it is. */
async function addressesOf(host: string): Promise<string[]> {
  const bare = host.replace(/^\[|\]$/g, '');
  if (net.isIP(bare)) return [bare];
  try {
    return (await dns.lookup(bare, { all: true })).map((a) => a.address);
  } catch {
    return [];
  }
}

/** Whether this process holds CAP_NET_ADMIN (bit 12 of CapEff). */
function hasNetAdmin(root: string): boolean {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readText(path.join(root, 'proc/self/status')))?.[1];
  return hex !== undefined && (BigInt(`0x${hex}`) & (1n << 12n)) !== 0n;
}

/** Loads the rules (nftables first, else the legacy tables); undefined on success, else why not, for a person. */
async function applyFirewall(plan: FirewallPlan, root: string): Promise<string | undefined> {
  if (!hasNetAdmin(root)) return 'this container lacks the NET_ADMIN capability';
  // IPv6 only where the container has it: without it there is nothing to reach, and no table to load.
  const ipv6 = readText(path.join(root, 'proc/net/if_inet6')).trim() !== '';
  let last = '';
  for (const variant of ['', '-legacy']) {
    const v4 = `/usr/sbin/iptables${variant}-restore`;
    if (!fs.existsSync(v4)) {
      last = `${v4} is missing (the runner image installs iptables)`;
      continue;
    }
    last = await restore(v4, firewallRules(plan, 4));
    if (last) continue;
    if (!ipv6) return undefined;
    const v6 = await restore(`/usr/sbin/ip6tables${variant}-restore`, firewallRules(plan, 6));
    return v6 ? `its IPv6 rules failed: ${v6}` : undefined;
  }
  return `cannot set firewall rules: ${last}`;
}

/** Runs an `*-restore` with the rules on stdin: '' when it worked, else its first line of complaint. */
function restore(file: string, rules: string): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(file, [], { stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000 });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', (err) => resolve(err.message));
    child.on('close', (code) => resolve(code === 0 ? '' : stderr.trim().split('\n')[0] || `${path.basename(file)} exited with ${code}`));
    child.stdin.on('error', () => {});
    child.stdin.end(rules);
  });
}
