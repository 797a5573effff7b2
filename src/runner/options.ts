import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { parseEnvFlag } from '../shared/env-flag.js';
import { defaultJobLimits, resolveJobLimits, type JobLimits } from '../shared/job-limits.js';
import { parseHostAddresses, parseJobHostPorts } from '../shared/job-network.js';
import { NAME_RE, parseAgents, parseLabels, POOL_ID_RE } from '../shared/names.js';
import { defaultDataDir } from '../shared/paths.js';
import { SANDBOX_MODES, type SandboxMode } from './sandbox.js';

/** A bad flag or variable: the CLI prints the message as its one error line. */
export class RunnerConfigError extends Error {}

export interface RunnerFlags {
  server?: string;
  token?: string;
  name?: string;
  labels?: string;
  workdir?: string;
  poolId?: string;
  /** `auto`, `require` or `off`; commander turns `--no-sandbox` into `false`. */
  sandbox?: string | boolean;
  /** Extra paths a sandboxed job may read and write, comma-separated. */
  sandboxShare?: string;
  /** One job, then leave. */
  ephemeral?: boolean;
  /** The agents this runner declares it can run, comma-separated, instead of looking on its PATH. */
  agents?: string;
}

export interface RunnerConfig {
  server: string;
  registrationToken: string;
  name: string;
  labels: string[];
  workdir: string;
  poolId?: string;
  sandbox: SandboxMode;
  /** Paths a sandboxed job may read and write besides its workspace and the agents' own dirs. */
  sandboxShare: string[];
  /** Paths a sandboxed job must never see: the runner's work dir, and the server's data dir when the runner knows it. */
  sandboxHide: string[];
  /** Take one job, report it, deregister and exit. */
  ephemeral: boolean;
  /** Inside the runner's container, run by root: the user its jobs run as. */
  jobUser: string;
  /** The agents declared with --agents or LAZYAF_AGENTS; undefined: found on the jobs' PATH at start. */
  agents?: string[];
  /** LAZYAF_JOB_HOST_PORTS: ports on the host's loopback its jobs may still reach. */
  jobHostPorts: number[];
  /** LAZYAF_HOST_ADDRESSES: in a runner container, the Docker host's own addresses, refused to its jobs. */
  hostAddresses: string[];
  /** What each job may use: LAZYAF_JOB_PIDS, LAZYAF_JOB_MEMORY, LAZYAF_JOB_TMPFS, LAZYAF_JOB_DISK over the defaults. */
  limits: JobLimits;
}

/** What a runner config may leave out: a runner started in-process (the tests, the bench) gets these, once (startRunner). */
export type RunnerDefaults = Pick<
  RunnerConfig,
  'sandbox' | 'sandboxShare' | 'sandboxHide' | 'ephemeral' | 'jobUser' | 'agents' | 'jobHostPorts' | 'hostAddresses' | 'limits'
>;

/**
 * The values a runner takes where nothing says otherwise; `lazyaf runner` reads its flags and
 * environment over these. An in-process runner hides only its work dir: it knows no data dir.
 */
export function runnerDefaults(workdir: string): RunnerDefaults {
  return {
    sandbox: 'auto',
    sandboxShare: [],
    sandboxHide: [workdir],
    ephemeral: false,
    jobUser: 'lazyaf',
    agents: undefined,
    jobHostPorts: [],
    hostAddresses: [],
    limits: defaultJobLimits(),
  };
}

/**
 * Flags first, then LAZYAF_SERVER, LAZYAF_TOKEN (the registration token), LAZYAF_POOL_ID,
 * LAZYAF_EPHEMERAL, LAZYAF_JOB_USER, LAZYAF_AGENTS, LAZYAF_JOB_HOST_PORTS,
 * LAZYAF_HOST_ADDRESSES and the job limits (LAZYAF_JOB_*), then defaults.
 */
export function resolveRunnerConfig(flags: RunnerFlags, env: NodeJS.ProcessEnv = process.env): RunnerConfig {
  const server = (flags.server ?? (env.LAZYAF_SERVER || 'http://localhost:8000')).replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/]+/.test(server)) throw new RunnerConfigError(`invalid server URL: ${server} (expected http://host:port)`);
  const registrationToken = flags.token ?? env.LAZYAF_TOKEN;
  if (!registrationToken)
    throw new RunnerConfigError('no registration token: pass --token or set LAZYAF_TOKEN (the server keeps it in its data dir as registration_token)');

  const name = flags.name ?? defaultName();
  if (!NAME_RE.test(name)) throw new RunnerConfigError(`invalid runner name: ${name} (letters, digits, ".", "_" and "-", up to 100)`);

  const parsed = parseLabels(flags.labels ?? '');
  if ('error' in parsed) throw new RunnerConfigError(parsed.error);

  const poolId = flags.poolId ?? (env.LAZYAF_POOL_ID || undefined);
  if (poolId !== undefined && !POOL_ID_RE.test(poolId)) throw new RunnerConfigError(`invalid pool id: ${poolId}`);

  const workdir = path.resolve(flags.workdir ?? path.join(os.tmpdir(), `lazyaf-runner-${name}`));
  const defaults = runnerDefaults(workdir);
  const sandbox =
    flags.sandbox === false ? 'off' : flags.sandbox === undefined || flags.sandbox === true ? env.LAZYAF_SANDBOX || defaults.sandbox : flags.sandbox;
  if (!(SANDBOX_MODES as readonly string[]).includes(sandbox))
    throw new RunnerConfigError(`invalid sandbox mode: ${sandbox} (expected ${SANDBOX_MODES.join(', ')})`);
  const sandboxShare = (flags.sandboxShare ?? env.LAZYAF_SANDBOX_SHARE ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const relative = sandboxShare.find((p) => !path.isAbsolute(p));
  if (relative !== undefined) throw new RunnerConfigError(`sandbox share paths must be absolute: ${relative}`);
  const jobUser = env.LAZYAF_JOB_USER || defaults.jobUser;
  if (!/^[a-z_][a-z0-9_-]{0,31}$/i.test(jobUser)) throw new RunnerConfigError(`invalid job user: ${jobUser} (a user name of /etc/passwd)`);
  const agentsCsv = flags.agents ?? (env.LAZYAF_AGENTS || undefined);
  const declared = agentsCsv === undefined ? undefined : parseAgents(agentsCsv);
  if (declared && 'error' in declared) throw new RunnerConfigError(declared.error);
  let ephemeral: boolean;
  let jobHostPorts: number[];
  let hostAddresses: string[];
  try {
    ephemeral = flags.ephemeral === true || parseEnvFlag('LAZYAF_EPHEMERAL', env.LAZYAF_EPHEMERAL);
    jobHostPorts = parseJobHostPorts(env.LAZYAF_JOB_HOST_PORTS);
    hostAddresses = parseHostAddresses(env.LAZYAF_HOST_ADDRESSES);
  } catch (err) {
    throw new RunnerConfigError((err as Error).message);
  }
  const limits = resolveJobLimits(env, defaults.limits);
  if ('error' in limits) throw new RunnerConfigError(limits.error);
  // The data dir of a server on this machine, which started this runner (a pool runner) or runs next to it: its tokens and every repo.
  const sandboxHide = [...defaults.sandboxHide, defaultDataDir(env)];
  return {
    server,
    registrationToken,
    name,
    labels: parsed.labels,
    workdir,
    poolId,
    sandbox: sandbox as SandboxMode,
    sandboxShare,
    sandboxHide,
    ephemeral,
    jobUser,
    agents: declared?.agents,
    jobHostPorts,
    hostAddresses,
    limits,
  };
}

/** `<hostname>-<4 hex>`, with the hostname cut to what a runner name may hold. */
export function defaultName(): string {
  const host =
    os
      .hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 90) || 'runner';
  return `${host}-${crypto.randomBytes(2).toString('hex')}`;
}
