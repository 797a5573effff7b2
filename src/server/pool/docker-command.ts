import crypto from 'node:crypto';
import type { DockerCommand, DockerEnvVar } from '../../shared/api.js';
import { shellQuote } from '../../shared/git.js';
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

/** Words a POSIX shell reads as they are; anything else is single-quoted. */
const PLAIN_WORD = /^[A-Za-z0-9_./:=@,+%-]+$/;

function shellWord(word: string): string {
  return PLAIN_WORD.test(word) ? word : shellQuote(word);
}

/** A server on this host's loopback is reachable from a container only on the host's network. */
export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]';
}

/**
 * The `docker run` line that adds one runner on any machine with Docker: detached, with an init
 * (node as pid 1 would ignore SIGTERM, so a drain would never start), restarted by the engine,
 * under the limits a pool container gets, and configured only through its environment. Arguments
 * after the image go to `lazyaf runner`. Its jobs' network is walled as the docker launcher's are
 * (jobNetworkSpec): NET_ADMIN for the runner's firewall, and for a server on this machine's
 * loopback the relay folder instead of the host network, where no wall is possible (kept only
 * where there is no relay: not Linux).
 * A value no single line can carry is an ApiError (422).
 */
export function dockerRunCommand(input: DockerCommandInput): DockerCommand {
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
  const words = ['docker', 'run', '-d', '--name', name, '--init', '--restart', 'unless-stopped'];
  if (input.limits?.pids) words.push('--pids-limit', String(input.limits.pids));
  if (input.limits?.memoryBytes) words.push('--memory', `${Math.floor(input.limits.memoryBytes / 1024 ** 2)}m`);
  if (network === 'host') words.push('--network', 'host');
  for (const cap of walls.capAdd) words.push('--cap-add', cap);
  for (const bind of walls.binds) words.push('-v', bind);
  for (const v of envVars) words.push('-e', `${v.name}=${v.value}`);
  words.push(input.image);
  if (input.labels.length > 0) words.push('--labels', input.labels.join(','));
  return { command: words.map(shellWord).join(' '), image: input.image, env_vars: envVars };
}
