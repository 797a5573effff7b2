import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isExecutableFile } from './sandbox.js';

/**
 * A job's own network on a process runner: outbound to the world, nothing of the host. A job that
 * shared the host's network held 773 sockets to the lazyaf server (its connection cap) and locked
 * the admin out, rate-limited the admin's sign-in, and could reach every local service and the
 * cloud metadata address.
 *
 * Passt's `pasta` gives the job a network namespace with a tap device whose traffic it replays
 * through ordinary sockets of the runner's user, so a job reaches what that user reaches outside,
 * and nothing of the host's loopback (the namespace has a loopback of its own). What would still
 * lead to the host is closed:
 *   - `-t none -u none`: no port of the host leads into the job;
 *   - `-T <ports>|none -U none`: the job reaches the host's loopback only on LAZYAF_JOB_HOST_PORTS
 *     (TCP), at 127.0.0.1:<port> inside; pasta's default would forward every port bound on it;
 *   - `--no-map-gw`: otherwise the gateway's address leads to the host's loopback;
 *   - `prohibit` rules, added inside the namespace before the job starts, for the host's own
 *     addresses (pasta would connect to them from the host: a server bound to 0.0.0.0 answers)
 *     and the link-local range with the cloud metadata address (169.254.0.0/16, fd00:ec2::254).
 *     Rules, not routes: a rule applies before any route, also to a link-local address with its
 *     interface named, which a route would not stop (the host's own link-local address, pasta's
 *     gateway inside, reached a listener of the host). They fail at once ("permission denied"),
 *     not after a 30 s timeout. The job runs in a user namespace nested in the one that added
 *     them, without capabilities: it cannot remove them.
 * Names resolve as on the host: the job reads its /etc/resolv.conf and reaches those servers
 * through pasta like anything else; a stub on the host's loopback is swapped for the servers
 * behind it (`jobResolver`).
 *
 * Why pasta and not slirp4netns: pasta starts the command inside the namespace it makes, so the
 * wall stays one argument vector (`pasta ... -- sh -c 'ip ...; exec bwrap ...'`); slirp4netns
 * attaches to a namespace that already exists, by its pid, which the runner would have to hold
 * open, hand over and wait on. Measured on the 2-core machine (load 2-5): the command starts
 * 20-25 ms later than in bubblewrap alone (about 5 ms): pasta 17-20 ms (it opens pools of
 * sockets on both sides; `-4` would save 5 ms and IPv6), the rules 2 ms. P4 (job received ->
 * command started, warm, p50) went from 60 ms to 90 ms. pasta leaves about 30 ms after the
 * command (the namespace's teardown), which delays the job's end, not its start.
 *
 * pasta does not die with the runner, and while it sets the namespace up it has children that
 * wait for it, one of them the init of a pid namespace of its own (deaf to SIGTERM). A runner
 * SIGKILLed in those 20 ms left that child waiting for ever, one per job. So pasta runs as the
 * init of a pid namespace of ours (`unshare --pid --fork --kill-child`), and the kernel kills
 * everything in that namespace, the namespaces nested in it included, once pasta is gone:
 *   - the unshare dies with the runner: `setpriv --pdeathsig`, then a check that the runner was
 *     not gone before the signal was set (its parent is still the runner);
 *   - pasta dies with the unshare (`--kill-child`), but util-linux before 2.39 sets that signal in
 *     the forked child without looking whether the unshare is still there: a runner killed in
 *     that window left pasta and the job for ever (4 of 150 runners killed 1-8 ms after the
 *     spawn, on the 2-core machine beside 4 CPU hogs; 0 of 600 with the check). The child, the
 *     init of the namespace, cannot ask for its parent (getppid() is 0 there): a shell in it reads
 *     its parent in the host's /proc, held open from before its own was mounted, and goes on only
 *     while that is still the unshare.
 * A pasta that fails (no /dev/net/tun) leaves nothing behind either. Each of pasta and bubblewrap
 * gets a /proc of its own pid namespace (`--mount-proc`): both look their children up there by
 * pid. (On the host's /proc, bubblewrap's lookup of its child, pid 4 of pasta's namespace, found
 * the host's pid 4, a kernel thread.)
 */

/**
 * The shell before the unshare, with its death signal set: goes on while its parent is the runner
 * (pid in $0). It hands the unshare, under the same pid, the host's /proc (fd 5) and that pid.
 */
const STILL_THE_RUNNERS = 'test "$PPID" = "$0" && LAZYAF_NETNS_PARENT=$$ exec "$@" 5</proc';
/**
 * The init of pasta's pid namespace, with its death signal set: goes on while its parent in the
 * host's /proc is still the unshare; pasta gets neither the host's /proc nor the pid.
 */
const STILL_THE_UNSHARES = [
  'exec 4</proc/self/fd/5/self/status 5<&-',
  'while read -r key value <&4; do [ "$key" = PPid: ] && break; done',
  'exec 4<&-',
  '[ "$value" = "$LAZYAF_NETNS_PARENT" ] || exit 125',
  'unset LAZYAF_NETNS_PARENT',
  'exec "$@"',
].join('\n');

/** The link-local ranges, where clouds answer with instance credentials (169.254.169.254, fd00:ec2::254 on AWS). */
const METADATA_V4 = ['169.254.0.0/16'];
const METADATA_V6 = ['fd00:ec2::254/128'];

/** Where `ip` lives when the runner's PATH lacks the sbin folders (non-root users on Debian). */
const SBIN = ['/usr/sbin', '/sbin'];

/**
 * Debian bookworm's pasta (2023-03) started as root switches to nobody and then cannot map the
 * users of its namespace. Started as an ordinary uid of a user namespace in which it is still
 * host root, it works: this uid inside that namespace.
 */
const UNPRIVILEGED_UID = '1000';

interface Tools {
  pasta: string;
  ip: string;
  setpriv: string;
  unshare: string;
  /** Root runs pasta as an ordinary uid of a user namespace, since Debian bookworm's pasta as root cannot map users. */
  isRoot: boolean;
}

export class JobNetwork {
  constructor(
    readonly hostPorts: readonly number[],
    private readonly tools: Tools,
    /** A resolv.conf shown at /etc/resolv.conf inside, when the host's names a resolver on its loopback. */
    private readonly resolver: { resolvConf?: string; problem?: string } = {},
  ) {}

  /** Why names may not resolve inside jobs, said at start. */
  get dnsProblem(): string | undefined {
    return this.resolver.problem;
  }

  /** The job network's tools on PATH (and the sbin folders), or what is missing. */
  static locate(hostPorts: readonly number[], pathValue = process.env.PATH ?? '', isRoot = process.getuid?.() === 0): JobNetwork | { problem: string } {
    const dirs = pathValue.split(':').filter((d) => path.isAbsolute(d));
    const find = (name: string, extra: string[] = []) => [...dirs, ...extra].map((d) => path.join(d, name)).find(isExecutableFile);
    const pasta = find('pasta');
    if (!pasta) return { problem: 'pasta is not installed' };
    const ip = find('ip', SBIN);
    if (!ip) return { problem: 'ip (iproute2) is not installed' };
    const setpriv = find('setpriv', SBIN);
    if (!setpriv) return { problem: 'setpriv (util-linux) is not installed' };
    const unshare = find('unshare', SBIN);
    if (!unshare) return { problem: 'unshare (util-linux) is not installed' };
    return new JobNetwork(hostPorts, { pasta, ip, setpriv, unshare, isRoot }, jobResolver());
  }

  /** The runner's line at start. */
  describe(): string {
    const open = this.hostPorts.length ? ` (except ports ${this.hostPorts.join(',')})` : '';
    return `jobs: own network (pasta), outbound only; closed: the host's loopback${open}, its other addresses, cloud metadata`;
  }

  /** What bubblewrap adds for a command on this network: it keeps pasta's namespace, and sees a resolver it can reach. */
  bwrapArgs(): string[] {
    const args = ['--share-net'];
    if (this.resolver.resolvConf) args.push('--ro-bind', this.resolver.resolvConf, '/etc/resolv.conf');
    return args;
  }

  /** The argument vector that runs `argv` (bubblewrap's) in a network namespace of its own; this process must spawn it. */
  wrap(argv: string[]): string[] {
    const { pasta, ip, setpriv, unshare, isRoot } = this.tools;
    const blocked = blockedDestinations();
    const rules = (v6: boolean) => blocked.filter((p) => net.isIPv6(p.split('/')[0]!) === v6).map((p) => `rule add to ${p} prohibit`);
    const [v4, v6] = [rules(false), rules(true)];
    // The rules first, while this shell still holds CAP_NET_ADMIN in the namespace; a failure stops the job before it starts.
    const script = [
      `${ip} -4 -batch - <<'EOF4'${v6.length ? ` && ${ip} -6 -batch - <<'EOF6'` : ''} || { echo "lazyaf: cannot close the job's network off from the host" >&2; exit 125; }`,
      ...v4,
      'EOF4',
      ...(v6.length ? [...v6, 'EOF6'] : []),
      'exec "$@"',
    ].join('\n');
    return [
      // The unshare dies with the runner, pasta and all in its namespace with the unshare; bubblewrap (--die-with-parent) with pasta.
      // A runner gone before the death signal was set sends none: the shell, started after, sees it gone and stops.
      ...[setpriv, '--pdeathsig', 'KILL', '--', '/bin/sh', '-c', STILL_THE_RUNNERS, String(process.pid)],
      ...[unshare, '--user'],
      ...(isRoot ? [`--map-user=${UNPRIVILEGED_UID}`, `--map-group=${UNPRIVILEGED_UID}`] : ['--map-current-user']),
      ...['--pid', '--fork', '--kill-child', '--mount-proc', '--', '/bin/sh', '-c', STILL_THE_UNSHARES, 'sh'],
      ...[pasta, '--quiet', '--config-net', '--no-map-gw', '-t', 'none', '-u', 'none', '-U', 'none'],
      ...['-T', this.hostPorts.length ? this.hostPorts.join(',') : 'none'],
      // A /proc of pasta's pid namespace for bubblewrap, which reads its child's namespaces there by pid.
      ...['--', '/bin/sh', '-c', script, 'sh', unshare, '--mount-proc', '--', ...argv],
    ];
  }
}

/**
 * The destinations a job must not reach through pasta: every address of the host (read at each
 * job, so a bridge made since the runner started counts), and the metadata ranges. The kernel's
 * own lists, since the host answers on an address of an interface that is down too (Docker's
 * bridge without containers), which `os.networkInterfaces()` leaves out; it adds what they miss.
 * IPv6 ones only where the host has IPv6 (a route of a family the kernel lacks would fail the job).
 */
export function blockedDestinations(
  fibTrie = readProc('/proc/net/fib_trie'),
  ifInet6 = readProc('/proc/net/if_inet6'),
  interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces(),
): string[] {
  const v4 = new Set<string>();
  const v6 = new Set<string>();
  // `|-- 172.17.0.1` then `/32 host LOCAL`: an address (or a range) the host takes as its own.
  let leaf = '';
  for (const line of fibTrie.split('\n')) {
    const at = /^\s*\|-- (\S+)$/.exec(line)?.[1];
    if (at !== undefined) leaf = at;
    const bits = /^\s*\/(\d+) host LOCAL$/.exec(line)?.[1];
    if (bits !== undefined && net.isIPv4(leaf)) v4.add(`${leaf}/${bits}`);
  }
  // `fd000000000000000000000000000002 04 40 00 82 eth0`: 32 hex digits, then the interface's details.
  for (const line of ifInet6.split('\n')) {
    const hex = /^([0-9a-f]{32})\s/.exec(line)?.[1];
    if (hex) v6.add(canonicalV6(hex.match(/.{4}/g)!.join(':')));
  }
  for (const a of Object.values(interfaces).flatMap((list) => list ?? [])) {
    if (net.isIPv4(a.address)) v4.add(`${a.address}/32`);
    else if (net.isIPv6(a.address)) v6.add(canonicalV6(a.address));
  }
  v6.delete('::1');
  const hasV6 = ifInet6.trim() !== '' || v6.size > 0;
  return [...METADATA_V4, ...[...v4].filter((p) => !p.startsWith('127.')), ...(hasV6 ? [...METADATA_V6, ...[...v6].map((a) => `${a}/128`)] : [])];
}

function canonicalV6(address: string): string {
  return new net.SocketAddress({ address, family: 'ipv6' }).address;
}

function readProc(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * systemd-resolved's stub listens on the host's loopback (127.0.0.53), which a job cannot reach;
 * the upstream servers it uses are in a file of their own, shown to jobs instead (as Docker does).
 * Nothing to do when /etc/resolv.conf names a server off the loopback; a problem when it names
 * only loopback ones and nothing better is known.
 */
export function jobResolver(etc = '/etc/resolv.conf', upstream = '/run/systemd/resolve/resolv.conf'): { resolvConf?: string; problem?: string } {
  const servers = (file: string) => {
    try {
      return [...fs.readFileSync(file, 'utf8').matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!);
    } catch {
      return [];
    }
  };
  const onLoopback = (s: string) => s.startsWith('127.') || s === '::1';
  const named = servers(etc);
  if (named.length === 0 || !named.every(onLoopback)) return {};
  const upstreamServers = servers(upstream);
  if (upstreamServers.length > 0 && !upstreamServers.some(onLoopback)) return { resolvConf: upstream };
  return {
    problem: `${etc} names only resolvers on this machine's loopback (${named.join(', ')}), which jobs cannot reach: names will not resolve inside jobs`,
  };
}

/**
 * What lets pasta open /dev/net/tun, which it needs to give a job its network: the device is
 * usually open to everyone (0666), but some hosts and containers keep it root's alone.
 */
export function tunAdvice(device = '/dev/net/tun', uid = process.getuid?.() ?? 0): string {
  let mode: string;
  try {
    const st = fs.statSync(device);
    mode = `it is mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, owner uid ${st.uid}`;
  } catch (err) {
    mode = `it is missing (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  return `let the runner's user (uid ${uid}) open ${device} (${mode}; most hosts have it 0666), or run the runner as root`;
}
