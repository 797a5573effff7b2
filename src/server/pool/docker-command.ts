import crypto from 'node:crypto';
import os from 'node:os';
import type { DockerCommand, DockerEnvVar, DockerRunLine } from '../../shared/api.js';
import { shellWord } from '../../shared/git.js';
import { printable } from '../../shared/terminal.js';
import { ApiError } from '../errors.js';
import type { ContainerLimits } from './container-limits.js';
import { jobNetworkSpec } from './docker-network.js';

export interface DockerCommandInput {
  /** The URL the runner reaches the server at. */
  serverUrl: string;
  image: string;
  registrationToken: string;
  /** Real values; otherwise `<NAME>` placeholders a person fills in. */
  withSecrets: boolean;
  /** Runner labels, already checked against LABEL_RE. */
  labels: string[];
  /** Tells apart the containers of several pasted commands on one machine; random by default. */
  nameSuffix?: string;
  /** The server's relay folder on this machine (host-relay.ts), on Linux: a runner here reaches the server through it. */
  relayDir?: string;
  /** LAZYAF_JOB_HOST_PORTS, passed on to a runner on this machine. */
  jobHostPorts?: number[];
  /** The container's limits, as the docker pool sizes its own (see container-limits.ts). */
  limits?: Pick<ContainerLimits, 'pids' | 'memoryBytes'>;
}

/** A server on this host's loopback is reachable from a container only on the host's network. */
export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]';
}

/**
 * The `docker run` line that adds one runner on a machine with Docker that reaches the server: detached, with an init
 * (node as pid 1 would ignore SIGTERM, so a drain would never start), restarted by the engine,
 * under the limits a pool container gets, and configured only through its environment. Arguments
 * after the image go to `lazyaf runner`. Its jobs' network is walled as the docker launcher's are
 * (jobNetworkSpec): NET_ADMIN for the runner's firewall, and for a server on this machine's
 * loopback the relay folder instead of the host network, where no wall is possible (kept only
 * where there is no relay: not Linux).
 * A value no single line can carry is an ApiError (422).
 */
export function dockerRunLine(input: DockerCommandInput): DockerRunLine {
  const loopback = isLoopbackUrl(input.serverUrl);
  const network = loopback && !input.relayDir ? 'host' : 'bridge';
  const walls = jobNetworkSpec({ network, relayDir: loopback ? input.relayDir : undefined, jobHostPorts: input.jobHostPorts ?? [] });
  const secret = (name: string, value: string, placeholder: string): DockerEnvVar => ({
    name,
    value: input.withSecrets ? value : `<${placeholder}>`,
    secret: true,
  });
  const envVars: DockerEnvVar[] = [
    { name: 'LAZYAF_SERVER', value: input.serverUrl, secret: false },
    secret('LAZYAF_TOKEN', input.registrationToken, 'LAZYAF_REGISTRATION_TOKEN'),
    ...Object.entries(walls.env).map(([name, value]) => ({ name, value, secret: false })),
  ];
  // Quoting keeps every other character as it is, but a newline would split the one pasted line,
  // and the CLI shows control characters and bidi overrides escaped, which would change the value.
  const unfit = envVars.find((v) => printable(v.value) !== v.value);
  if (unfit)
    throw new ApiError(
      422,
      `${unfit.name} holds a control character or bidi override, which no one-line command can carry; ask without with_secrets and fill it in`,
    );
  const name = `lazyaf-runner-${input.nameSuffix ?? crypto.randomBytes(2).toString('hex')}`;
  // Argument groups: a flag stays with its value, so a display that puts each group on its own line never splits one.
  const groups: string[][] = [['docker', 'run', '-d', '--name', name, '--init', '--restart', 'unless-stopped']];
  const limits: string[] = [];
  if (input.limits?.pids) limits.push('--pids-limit', String(input.limits.pids));
  if (input.limits?.memoryBytes) limits.push('--memory', `${Math.floor(input.limits.memoryBytes / 1024 ** 2)}m`);
  if (limits.length > 0) groups.push(limits);
  if (network === 'host') groups.push(['--network', 'host']);
  for (const cap of walls.capAdd) groups.push(['--cap-add', cap]);
  for (const bind of walls.binds) groups.push(['-v', bind]);
  for (const v of envVars) groups.push(['-e', `${v.name}=${v.value}`]);
  groups.push(input.labels.length > 0 ? [input.image, '--labels', input.labels.join(',')] : [input.image]);
  const lines = groups.map((words) => words.map(shellWord).join(' '));
  return { command: lines.join(' '), lines, server_url: input.serverUrl, env_vars: envVars };
}

/** How the server listens: where a runner on another machine can reach it, if anywhere. */
export interface Listening {
  /** LAZYAF_HOST: the address the server listens on. */
  host: string;
  /** The machine's network interfaces (os.networkInterfaces()). */
  interfaces?: NodeJS.Dict<os.NetworkInterfaceInfo[]>;
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

const isLoopbackHost = (host: string): boolean => isLoopbackUrl(`http://${host.includes(':') ? `[${host}]` : host}`);

/** This machine's first address other machines may reach: an IPv4 address if it has one, else a global IPv6 one. */
export function outwardAddress(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]>): string | undefined {
  const all = Object.values(interfaces)
    .flatMap((list) => list ?? [])
    .filter((a) => !a.internal);
  const v4 = all.find((a) => a.family === 'IPv4');
  if (v4) return v4.address;
  return all.find((a) => a.family === 'IPv6' && !a.address.toLowerCase().startsWith('fe80'))?.address;
}

/**
 * The `docker run` command for a runner (`dockerRunLine`) with what a person must know about
 * where it works. A server URL on this machine's loopback works only here (the runner reaches it
 * through the relay folder or the host network): then, when the server listens beyond loopback,
 * the same command with an address of this machine other machines may reach; when it listens
 * only on loopback, why no other machine can reach it and how to change that.
 */
export function dockerRunCommand(input: DockerCommandInput, listening: Listening): DockerCommand {
  const here = dockerRunLine(input);
  const base = { ...here, image: input.image };
  if (!isLoopbackUrl(input.serverUrl)) return { ...base, local_only: false, elsewhere: null, elsewhere_hint: null };
  const url = new URL(input.serverUrl);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const listensOn = listening.host.trim();
  if (isLoopbackHost(listensOn)) {
    const hint =
      `The server listens on ${listensOn} only, so no other machine can reach it. To add runners elsewhere, start it with LAZYAF_HOST=0.0.0.0 ` +
      `(it then listens on every interface; set LAZYAF_PUBLIC_URL to the address the other machines use) and ask for the command again.`;
    return { ...base, local_only: true, elsewhere: null, elsewhere_hint: hint };
  }
  const address = WILDCARD.has(listensOn) ? outwardAddress(listening.interfaces ?? os.networkInterfaces()) : listensOn;
  if (!address) {
    const hint = `This machine has no network address other than loopback: no other machine can reach the server. Connect it to a network, or set LAZYAF_PUBLIC_URL to an address that reaches it.`;
    return { ...base, local_only: true, elsewhere: null, elsewhere_hint: hint };
  }
  const host = address.includes(':') ? `[${address}]` : address;
  const elsewhere = dockerRunLine({ ...input, serverUrl: `${url.protocol}//${host}:${port}`, relayDir: undefined });
  const hint = `An address of this machine (from its network interfaces): a firewall or another network between the machines may still block it; LAZYAF_PUBLIC_URL names the one to use.`;
  return { ...base, local_only: true, elsewhere, elsewhere_hint: hint };
}
