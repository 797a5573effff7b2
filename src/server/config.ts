import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnvFlag } from '../shared/env-flag.js';
import { resolveJobLimits, type JobLimits } from '../shared/job-limits.js';
import { parseJobHostPorts } from '../shared/job-network.js';
import { defaultDataDir } from '../shared/paths.js';
import { parseAgentModels } from './agent-models.js';
import { EVENT_KEEPALIVE_MS } from './events.js';

/** An idle event stream must outlast the gap between its keep-alive comments, with room for a slow write. */
const MIN_IDLE_TIMEOUT_S = EVENT_KEEPALIVE_MS / 1000 + 5;

export type LauncherKind = 'process' | 'docker';

/** Everything the server needs to start, resolved from flags, then env, then defaults. */
export interface ServerConfig {
  dataDir: string;
  host: string;
  port: number;
  adminToken?: string;
  registrationToken?: string;
  /** LAZYAF_METRICS_TOKEN: a token that reads `GET /metrics` and nothing else; unset, only the admin token does. */
  metricsToken?: string;
  /** LAZYAF_RETENTION_DAYS: finished jobs' logs and transcripts older than this are pruned; 0: kept for ever. */
  retentionDays: number;
  /** The pool's desired size when given at start (flag or env); otherwise the stored one is used. */
  runners?: number;
  launcher: LauncherKind;
  /** The docker launcher's limits, and how its containers reach the server. */
  docker: DockerRunnerConfig;
  /** LAZYAF_JOB_HOST_PORTS: ports on the host's loopback that jobs may still reach (a model gateway). */
  jobHostPorts: number[];
  /** LAZYAF_AGENT_MODELS: the model of each built-in agent for a job that names none. */
  agentModels: Readonly<Record<string, string>>;
  /** What a job may use (LAZYAF_JOB_*): the process pool's runners read the same variables, the docker pool's containers are sized from these. */
  jobLimits: JobLimits;
  /** Pool runners take one job each and are replaced by fresh ones (LAZYAF_EPHEMERAL=1). */
  ephemeral: boolean;
  leaseTtlSeconds: number;
  /** Cap on stored log bytes per job; output beyond it is dropped behind a marker. */
  logCapBytes: number;
  /** Attempts a job gets before a lost/timed-out attempt fails it. */
  maxAttempts: number;
  /** Default job timeout when a job names none. */
  jobTimeoutSeconds: number;
  /** How long past a job's timeout its runner may still report before the server ends the attempt itself. */
  timeoutGraceSeconds: number;
  /** How long a cancelled running job's runner has to stop it, push what it left and report, before the server ends the attempt. */
  cancelGraceSeconds: number;
  /** How long a queued job that no registered runner can take waits before it fails; 0: for ever. */
  noRunnerTimeoutSeconds: number;
  /** Days a task's discarded candidates keep their branches once the pick is made (decimals allowed). */
  discardDays: number;
  /** Registrations allowed at once, and refilled per second after that. */
  registerBurst: number;
  registerPerSecond: number;
  /** A runner offline or revoked for this long is deleted (its attempts keep its id). */
  runnerPruneAfterSeconds: number;
  /** The longest a runner's long-poll is held open. */
  longPollSeconds: number;
  /** A request's headers, then its body, must each arrive within this (git transfers excepted). */
  bodyTimeoutSeconds: number;
  /** A connection with no traffic either way for this long is cut (git transfers included). */
  idleTimeoutSeconds: number;
  /** The largest pack one push may send (git's receive.maxInputSize); 0 = no limit. */
  maxPushBytes: number;
  /** A webhook delivery's first retry waits about this long, doubling after each failure up to 10 minutes (LAZYAF_WEBHOOK_RETRY_MS). */
  webhookRetryMs: number;
  /** Tries of a webhook delivery before it is given up as `failed` (LAZYAF_WEBHOOK_ATTEMPTS). */
  webhookAttempts: number;
  /** How long a webhook's receiver has to answer one delivery (LAZYAF_WEBHOOK_TIMEOUT_MS). */
  webhookTimeoutMs: number;
  logLevel: string;
  /** JSON lines, or short lines for a person; unset: short lines when stdout is a terminal. */
  logFormat?: LogFormat;
  /** The base URL clients and runners elsewhere reach the server at (clone URLs, the docker command); unset: the host a request reached. */
  publicUrl?: string;
  /** The runner image of the docker launcher and of the generated `docker run` command. */
  runnerImage: string;
  /** The built web UI the server serves at `/` (LAZYAF_WEB_DIR; default: the package's dist/web). */
  webDir: string;
}

/** <package root>/dist/web: the same from src/server (tsx) and dist/server (built). */
const PACKAGE_WEB_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

/** How the docker launcher runs its containers (the image is `runnerImage`). */
export interface DockerRunnerConfig {
  /** CPUs per runner container (fractions allowed); none: no limit. */
  cpus?: number;
  /** Memory per runner container, in bytes; none: no limit. */
  memoryBytes?: number;
  /**
   * The Docker network runner containers join. Not `host` by default: in a network namespace of
   * their own, the runner walls its jobs off from the host with firewall rules (see
   * runner/container-network.ts); on `host` those rules would be the host's, so there are none.
   */
  network: string;
  /** The URL runner containers reach the server at, when the server's own URL does not work from inside them. */
  serverUrl?: string;
}

export interface ServerFlags {
  data?: string;
  host?: string;
  port?: string | number;
  runners?: string | number;
  launcher?: string;
  logLevel?: string;
  logFormat?: string;
}

export type LogFormat = 'json' | 'pretty';

export class ConfigError extends Error {}

function logFormatFrom(raw: string | undefined): LogFormat | undefined {
  if (raw === undefined || raw === 'json' || raw === 'pretty') return raw;
  throw new ConfigError(`the log format must be json or pretty (--log-format, LAZYAF_LOG_FORMAT), got "${raw}"`);
}

function intFrom(name: string, raw: string | number | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function numberFrom(name: string, raw: string | undefined, fallback: number, min: number, exclusive = false): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (exclusive && value === min))
    throw new ConfigError(`${name} must be a number ${exclusive ? '>' : '>='} ${min}, got "${raw}"`);
  return value;
}

/** A century at most: a time past that is no date at all in JavaScript's range (and no one's plan). */
function discardDaysFrom(raw: string | undefined): number {
  const days = numberFrom('LAZYAF_DISCARD_DAYS', raw, 7, 0);
  if (days > 36_500) throw new ConfigError(`LAZYAF_DISCARD_DAYS must be at most 36500, got "${raw}"`);
  return days;
}

/** 0 keeps everything; otherwise a century at most, as for LAZYAF_DISCARD_DAYS. */
function retentionDaysFrom(raw: string | undefined): number {
  const days = numberFrom('LAZYAF_RETENTION_DAYS', raw, 0, 0);
  if (days > 36_500) throw new ConfigError(`LAZYAF_RETENTION_DAYS must be at most 36500, got "${raw}"`);
  return days;
}

const MEMORY_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `512m`, `2g`, `1.5g`, `1073741824`: bytes, at least the 6 MiB Docker accepts. */
function memoryFrom(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([bkmg]?)$/i.exec(raw.trim());
  const bytes = m ? Math.floor(Number(m[1]) * MEMORY_UNITS[m[2]!.toLowerCase()]!) : NaN;
  if (!(bytes >= 6 * 1024 ** 2 && bytes <= 2 ** 50)) throw new ConfigError(`${name} must be a size such as 512m or 2g (at least 6m), got "${raw}"`);
  return bytes;
}

function dockerFrom(env: NodeJS.ProcessEnv): DockerRunnerConfig {
  const serverUrl = env.LAZYAF_RUNNER_SERVER_URL || undefined;
  if (serverUrl !== undefined && !/^https?:\/\/[^\s/]+\/?$/.test(serverUrl))
    throw new ConfigError(`LAZYAF_RUNNER_SERVER_URL must be a URL such as http://host.docker.internal:8000, got "${serverUrl}"`);
  const network = env.LAZYAF_RUNNER_NETWORK || 'bridge';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(network)) throw new ConfigError(`LAZYAF_RUNNER_NETWORK must be a Docker network name, got "${network}"`);
  const cpus = env.LAZYAF_RUNNER_CPUS ? numberFrom('LAZYAF_RUNNER_CPUS', env.LAZYAF_RUNNER_CPUS, 0, 0, true) : undefined;
  if (cpus !== undefined && cpus > 1024) throw new ConfigError(`LAZYAF_RUNNER_CPUS must be a number > 0 and at most 1024, got "${env.LAZYAF_RUNNER_CPUS}"`);
  return {
    cpus,
    memoryBytes: memoryFrom('LAZYAF_RUNNER_MEMORY', env.LAZYAF_RUNNER_MEMORY),
    network,
    serverUrl: serverUrl?.replace(/\/$/, ''),
  };
}

/** The pool's runners inherit LAZYAF_JOB_HOST_PORTS from this environment: a bad value stops the server, not each runner. */
function jobHostPortsFrom(raw: string | undefined): number[] {
  try {
    return parseJobHostPorts(raw);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

function agentModelsFrom(raw: string | undefined): Readonly<Record<string, string>> {
  try {
    return parseAgentModels(raw);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

function jobLimitsFrom(env: NodeJS.ProcessEnv): JobLimits {
  const limits = resolveJobLimits(env);
  if ('error' in limits) throw new ConfigError(limits.error);
  return limits;
}

function flagFrom(name: string, raw: string | undefined): boolean {
  try {
    return parseEnvFlag(name, raw);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

function publicUrlFrom(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    // Reported below.
  }
  // Runners and git clients get it as a base URL: a path, query or credentials would land in every clone URL.
  if (!url || !/^https?:$/.test(url.protocol) || url.username || url.password || url.search || url.hash)
    throw new ConfigError(`LAZYAF_PUBLIC_URL must be an http(s) URL such as http://lazyaf.example:8000, got "${raw}"`);
  return url.href.replace(/\/+$/, '');
}

/** A Docker image reference (`name[:tag][@digest]`, with an optional registry): refuses what docker would not parse. */
const IMAGE_RE = /^[a-z0-9][a-z0-9._/-]*(?::[0-9]+\/[a-z0-9._/-]+)?(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

export function resolveServerConfig(flags: ServerFlags = {}, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const launcher = flags.launcher ?? env.LAZYAF_LAUNCHER ?? 'process';
  if (launcher !== 'process' && launcher !== 'docker') {
    throw new ConfigError(`launcher must be "process" or "docker", got "${launcher}"`);
  }
  const runners = flags.runners ?? env.LAZYAF_RUNNERS;
  const runnerImage = env.LAZYAF_RUNNER_IMAGE || 'lazyaf-runner:latest';
  if (runnerImage.length > 255 || !IMAGE_RE.test(runnerImage))
    throw new ConfigError(`LAZYAF_RUNNER_IMAGE must be a Docker image reference such as lazyaf-runner:latest, got "${runnerImage}"`);
  return {
    dataDir: flags.data ? path.resolve(flags.data) : defaultDataDir(env),
    host: flags.host ?? env.LAZYAF_HOST ?? '127.0.0.1',
    port: intFrom('port', flags.port ?? env.LAZYAF_PORT, 8000, 0, 65535),
    adminToken: env.LAZYAF_ADMIN_TOKEN || undefined,
    registrationToken: env.LAZYAF_REGISTRATION_TOKEN || undefined,
    metricsToken: env.LAZYAF_METRICS_TOKEN || undefined,
    retentionDays: retentionDaysFrom(env.LAZYAF_RETENTION_DAYS),
    runners: runners === undefined || runners === '' ? undefined : intFrom('runners', runners, 0, 0, 256),
    launcher,
    docker: dockerFrom(env),
    jobHostPorts: jobHostPortsFrom(env.LAZYAF_JOB_HOST_PORTS),
    agentModels: agentModelsFrom(env.LAZYAF_AGENT_MODELS),
    jobLimits: jobLimitsFrom(env),
    ephemeral: flagFrom('LAZYAF_EPHEMERAL', env.LAZYAF_EPHEMERAL),
    leaseTtlSeconds: numberFrom('LAZYAF_LEASE_TTL', env.LAZYAF_LEASE_TTL, 60, 1),
    logCapBytes: intFrom('LAZYAF_LOG_CAP', env.LAZYAF_LOG_CAP, 10 * 1024 * 1024, 1024, 2 ** 40),
    maxAttempts: intFrom('LAZYAF_MAX_ATTEMPTS', env.LAZYAF_MAX_ATTEMPTS, 3, 1, 100),
    jobTimeoutSeconds: intFrom('LAZYAF_JOB_TIMEOUT', env.LAZYAF_JOB_TIMEOUT, 3600, 1, 7 * 24 * 3600),
    timeoutGraceSeconds: intFrom('LAZYAF_TIMEOUT_GRACE', env.LAZYAF_TIMEOUT_GRACE, 30, 0, 24 * 3600),
    cancelGraceSeconds: intFrom('LAZYAF_CANCEL_GRACE', env.LAZYAF_CANCEL_GRACE, 30, 1, 3600),
    noRunnerTimeoutSeconds: intFrom('LAZYAF_NO_RUNNER_TIMEOUT', env.LAZYAF_NO_RUNNER_TIMEOUT, 0, 0, 30 * 24 * 3600),
    discardDays: discardDaysFrom(env.LAZYAF_DISCARD_DAYS),
    registerBurst: intFrom('LAZYAF_REGISTER_BURST', env.LAZYAF_REGISTER_BURST, 100, 1, 1_000_000),
    registerPerSecond: numberFrom('LAZYAF_REGISTER_RATE', env.LAZYAF_REGISTER_RATE, 2, 0, true),
    runnerPruneAfterSeconds: numberFrom('LAZYAF_RUNNER_PRUNE_AFTER', env.LAZYAF_RUNNER_PRUNE_AFTER, 24 * 3600, 1),
    longPollSeconds: numberFrom('LAZYAF_LONG_POLL', env.LAZYAF_LONG_POLL, 30, 0.1),
    bodyTimeoutSeconds: intFrom('LAZYAF_BODY_TIMEOUT', env.LAZYAF_BODY_TIMEOUT, 10, 1, 3600),
    idleTimeoutSeconds: intFrom('LAZYAF_IDLE_TIMEOUT', env.LAZYAF_IDLE_TIMEOUT, 60, MIN_IDLE_TIMEOUT_S, 24 * 3600),
    maxPushBytes: intFrom('LAZYAF_MAX_PUSH_BYTES', env.LAZYAF_MAX_PUSH_BYTES, 1024 ** 3, 0, 2 ** 50),
    webhookRetryMs: intFrom('LAZYAF_WEBHOOK_RETRY_MS', env.LAZYAF_WEBHOOK_RETRY_MS, 1000, 1, 600_000),
    webhookAttempts: intFrom('LAZYAF_WEBHOOK_ATTEMPTS', env.LAZYAF_WEBHOOK_ATTEMPTS, 15, 1, 100),
    webhookTimeoutMs: intFrom('LAZYAF_WEBHOOK_TIMEOUT_MS', env.LAZYAF_WEBHOOK_TIMEOUT_MS, 10_000, 100, 120_000),
    logLevel: flags.logLevel ?? env.LAZYAF_LOG_LEVEL ?? 'info',
    logFormat: logFormatFrom(flags.logFormat ?? (env.LAZYAF_LOG_FORMAT || undefined)),
    publicUrl: publicUrlFrom(env.LAZYAF_PUBLIC_URL),
    runnerImage,
    webDir: env.LAZYAF_WEB_DIR ? path.resolve(env.LAZYAF_WEB_DIR) : PACKAGE_WEB_DIR,
  };
}
