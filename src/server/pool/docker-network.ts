import os from 'node:os';
import { HOST_RELAY_DIR } from '../../shared/job-network.js';

/**
 * This machine's own addresses, which jobs must not reach (the server and whatever else listens
 * on them): the runner refuses them to its jobs, besides the private and link-local ranges.
 */
export function hostAddresses(): string[] {
  const all = Object.values(os.networkInterfaces()).flatMap((list) => list ?? []);
  return [...new Set(all.filter((a) => !a.internal && !a.address.startsWith('fe80:')).map((a) => a.address))];
}

/**
 * What a runner container needs to wall its jobs' network off (runner/container-network.ts): the
 * capability to set firewall rules in its own network namespace (never on `host`, where they would
 * be the host's), the host's addresses to refuse, and the relay folder with the ports it may pass on.
 * Shared by the launcher and the generated `docker run` command, so both start the same runner.
 */
export function jobNetworkSpec(opts: { network: string; relayDir?: string; jobHostPorts: number[] }): {
  capAdd: string[];
  binds: string[];
  env: Record<string, string>;
} {
  if (opts.network === 'host') return { capAdd: [], binds: [], env: {} };
  if (!opts.relayDir) return { capAdd: ['NET_ADMIN'], binds: [], env: {} };
  // Through the relay the container runs on this machine: its addresses are the Docker host's.
  const addresses = hostAddresses();
  return {
    capAdd: ['NET_ADMIN'],
    binds: [`${opts.relayDir}:${HOST_RELAY_DIR}:ro`],
    env: {
      ...(opts.jobHostPorts.length > 0 ? { LAZYAF_JOB_HOST_PORTS: opts.jobHostPorts.join(',') } : {}),
      ...(addresses.length > 0 ? { LAZYAF_HOST_ADDRESSES: addresses.join(',') } : {}),
    },
  };
}
