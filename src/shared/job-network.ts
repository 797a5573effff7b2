import net from 'node:net';

/**
 * What a job may reach on the network besides the outside world, as the server and the runner
 * agree on it: LAZYAF_JOB_HOST_PORTS names ports on the host's loopback (a model gateway), and
 * a runner container reaches the host's loopback only through unix sockets the server offers in
 * one folder, mounted at HOST_RELAY_DIR (see server/pool/host-relay.ts and
 * runner/container-network.ts).
 */

/** Where a runner container finds the host's relay sockets. Its parent is root's alone (0700, see Dockerfile), so a job cannot open them. */
export const HOST_RELAY_DIR = '/run/lazyaf/host';

/** The socket in a relay folder that leads to `port` on the host's loopback. */
export function relaySocket(dir: string, port: number): string {
  return `${dir}/${port}.sock`;
}

/**
 * LAZYAF_JOB_HOST_PORTS: `8787,4000` → [4000, 8787]; unset or empty → []. Anything else throws
 * an Error whose message is one line naming the variable and the bad value.
 */
export function parseJobHostPorts(value: string | undefined): number[] {
  const ports = new Set<number>();
  for (const word of (value ?? '').split(',').map((w) => w.trim())) {
    if (word === '') continue;
    const port = /^\d{1,5}$/.test(word) ? Number(word) : NaN;
    if (!(port >= 1 && port <= 65535))
      throw new Error(`LAZYAF_JOB_HOST_PORTS must be ports from 1 to 65535, comma-separated (such as 8787,4000), got "${value}"`);
    ports.add(port);
  }
  return [...ports].sort((a, b) => a - b);
}

/**
 * LAZYAF_HOST_ADDRESSES: the Docker host's own addresses (or networks, `a.b.c.d/n`), which jobs in
 * a runner container may not reach; unset or empty → []. Anything else throws a one-line Error.
 */
export function parseHostAddresses(value: string | undefined): string[] {
  const words = (value ?? '')
    .split(',')
    .map((w) => w.trim())
    .filter(Boolean);
  for (const word of words) {
    const [address = '', prefix, extra] = word.split('/');
    const family = net.isIP(address);
    const bits = prefix === undefined ? 0 : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (family === 0 || extra !== undefined || !(bits >= 0 && bits <= (family === 4 ? 32 : 128)))
      throw new Error(`LAZYAF_HOST_ADDRESSES must be IP addresses or networks (a.b.c.d/n), comma-separated, got "${word}"`);
  }
  return words;
}
