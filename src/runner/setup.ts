import type { ResolvedEnvironment, SetupReport } from '../shared/environment.js';
import type { CompleteRequest } from '../shared/protocol.js';
import { cacheKey, CachePathError, excludeFromCommits, restoreCache, saveCache } from './env-cache.js';
import type { CommandResult } from './execute.js';

/**
 * A repo's setup (`.lazyaf.yml`), before the job's command or agent: each command under `sh -c`
 * behind the job's wall, with the job's limits and network, as a section of the job's log. When
 * the runner holds the cache for the repo and key, the cached paths are restored and setup is
 * skipped: running `npm ci` over a restored node_modules would gain nothing, since it deletes
 * node_modules first by design. After a setup that passed, what it left at the cache paths is
 * saved, once nothing of setup runs any more and before the command starts.
 */

export interface SetupPlan {
  env: ResolvedEnvironment;
  /** The cache key, when the environment has a cache (and a setup to fill it). */
  key?: string;
  /** Restored from the cache, or nothing to run: the section is over. */
  done?: SetupReport;
  /** The setup cannot even start (a key file out of the checkout): the attempt fails with this. */
  error?: string;
  started: number;
}

export interface SetupPlace {
  workdir: string;
  repoId: string;
  checkout: string;
  say: (line: string) => void;
  signal: AbortSignal;
}

/** What the job's command, agent and checks get from the environment: its plain variables and the secrets meant for the job. */
export function jobVariables(env: ResolvedEnvironment | undefined): Record<string, string> {
  return env ? { ...env.env, ...env.job_secrets } : {};
}

/** What setup gets: the job's variables and the secrets meant for setup only. */
export function setupVariables(env: ResolvedEnvironment): Record<string, string> {
  return { ...env.env, ...env.job_secrets, ...env.setup_secrets };
}

/** Every secret value the assignment carried for the environment: redacted from all the runner sends. */
export function environmentSecrets(env: ResolvedEnvironment | undefined): string[] {
  return env ? [...Object.values(env.setup_secrets), ...Object.values(env.job_secrets)] : [];
}

/** One line for `environment_error`, as the log and the job's error give it. */
export function environmentErrorLine(error: string): string {
  return error.replace(/[\r\n]+/g, ' ').slice(0, 2000);
}

/**
 * Before the wall admits the job (a restored copy is handed to the job with the rest of the
 * checkout): the key, and the cache restored when the runner holds it.
 */
export async function planSetup(env: ResolvedEnvironment, place: SetupPlace): Promise<SetupPlan> {
  const started = Date.now();
  const plan: SetupPlan = { env, started };
  if (env.image)
    place.say(
      `environment: image ${env.image} is not applied: a job runs in its runner's wall (send the repo's jobs, by a label, to runners of an image built on it)`,
    );
  if (env.setup.length === 0) {
    plan.done = { status: 'none', duration_ms: 0 };
    return plan;
  }
  if (!env.cache) return plan;
  try {
    plan.key = await cacheKey(place.checkout, env.setup, env.cache.paths, env.cache.key);
    excludeFromCommits(place.checkout, env.cache.paths);
  } catch (err) {
    if (!(err instanceof CachePathError)) throw err;
    plan.error = `setup: ${err.message}`;
    place.say(plan.error);
    plan.done = { status: 'failed', duration_ms: Date.now() - started };
    return plan;
  }
  try {
    if (await restoreCache(place.workdir, place.repoId, plan.key, place.checkout, place.signal)) {
      const ms = Date.now() - started;
      place.say(`setup: restored from cache (key ${plan.key.slice(0, 12)}) in ${seconds(ms)}; setup not run`);
      plan.done = { status: 'cached', duration_ms: ms };
    }
  } catch (err) {
    if (place.signal.aborted) throw err;
    place.say(`setup: the cache for key ${plan.key.slice(0, 12)} could not be restored (${(err as Error).message}); it is dropped and setup runs`);
  }
  return plan;
}

/** Runs one setup command behind the job's wall, its output in the log; the time it may take. */
export type RunSetupCommand = (command: string, timeoutMs: number) => Promise<CommandResult>;

export interface SetupRun {
  run: RunSetupCommand;
  /** Ends whatever setup left running: nothing of the job may write while the cache is copied. */
  settle: () => Promise<void>;
  /** The limit setup hit, if any. */
  breach: () => string | undefined;
  stopped: () => 'cancelled' | 'other' | undefined;
  timeoutMs: number;
}

/**
 * Runs the setup commands in order; the first that does not pass ends it. Undefined when setup
 * passed, else how the attempt ends (its work is kept as any failed job's).
 */
export async function runSetup(plan: SetupPlan, place: SetupPlace, r: SetupRun): Promise<{ report: SetupReport; ended?: CompleteRequest }> {
  const { env } = plan;
  place.say(`setup: ${env.setup.join('; ')}`);
  const started = Date.now();
  for (const command of env.setup) {
    const left = r.timeoutMs > 0 ? Math.max(1, r.timeoutMs - (Date.now() - plan.started)) : 0;
    const result = await r.run(command, left);
    const ended = setupEnded(command, result, r.breach(), r.stopped(), r.timeoutMs);
    if (ended) {
      await r.settle();
      const ms = Date.now() - plan.started;
      const took = seconds(Date.now() - started);
      place.say(
        ended.error
          ? `setup: failed after ${took}: ${ended.error}`
          : `setup: stopped after ${took} (${ended.outcome === 'cancelled' ? 'cancelled' : 'the job was stopped'})`,
      );
      return { report: { status: 'failed', duration_ms: ms }, ended };
    }
  }
  place.say(`setup: passed in ${seconds(Date.now() - started)}`);
  await r.settle();
  if (plan.key && env.cache && !place.signal.aborted) {
    const saving = Date.now();
    try {
      await saveCache(place.workdir, place.repoId, plan.key, place.checkout, env.cache.paths, place.signal);
      place.say(`setup: cached ${env.cache.paths.join(', ')} (key ${plan.key.slice(0, 12)}) in ${seconds(Date.now() - saving)}`);
    } catch (err) {
      if (!place.signal.aborted) place.say(`setup: could not save the cache: ${(err as Error).message}`);
    }
  }
  return { report: { status: 'passed', duration_ms: Date.now() - plan.started } };
}

/** How a setup command that did not pass ends the attempt; undefined when it passed. */
function setupEnded(
  command: string,
  result: CommandResult,
  breach: string | undefined,
  stopped: 'cancelled' | 'other' | undefined,
  timeoutMs: number,
): CompleteRequest | undefined {
  const name = JSON.stringify(command.length > 200 ? `${command.slice(0, 200)}…` : command);
  if (stopped === 'cancelled') return { outcome: 'cancelled', exit_code: null };
  if (stopped) return { outcome: 'returned', exit_code: null };
  if (result.timedOut) return { outcome: 'timeout', exit_code: null, error: `timed out after ${Math.round(timeoutMs / 1000)} s; during setup command ${name}` };
  if (result.spawnError) return { outcome: 'failed', exit_code: null, error: `setup command ${name} could not start: ${result.spawnError}` };
  if (breach) return { outcome: 'failed', exit_code: null, error: `setup command ${name}: ${breach}` };
  if (result.exitCode !== 0) {
    const how = result.signal ? `killed by ${result.signal}` : `exit code ${result.exitCode}`;
    return { outcome: 'failed', exit_code: null, error: `setup command ${name} failed (${how})` };
  }
  return undefined;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
