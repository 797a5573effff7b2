/**
 * `LAZYAF_JOB_HOST_PORTS`: the ports of the host's loopback a job may still reach (a model gateway
 * on the host). The server checks it at start, since its pool runners inherit it; `lazyaf runner`
 * reads it to build its jobs' network.
 */

/** `8787,4000` (spaces allowed, each port once, sorted), or why it is refused; empty or unset: none. */
export function parseHostPorts(csv: string | undefined): { ports: number[] } | { error: string } {
  const entries = (csv ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const bad = entries.find((p) => !/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535);
  if (bad !== undefined) return { error: `LAZYAF_JOB_HOST_PORTS must be ports from 1 to 65535, comma-separated (e.g. 8787,4000), got "${csv}"` };
  return { ports: [...new Set(entries.map(Number))].sort((a, b) => a - b) };
}
