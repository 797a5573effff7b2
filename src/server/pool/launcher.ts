import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LauncherKind } from '../config.js';
import { isAgentCredential } from '../../shared/agents/credentials.js';
import { clearTree, DISCARDED_PREFIX, removeTree } from '../../shared/remove-tree.js';
import { workdirHolder } from '../../shared/workdir-lock.js';
import { childExecArgv, FROM_SOURCE, siblingModule } from '../sibling.js';

/** One runner the pool started (or found alive from before a restart). */
export interface LaunchedRunner {
  /** Stable across restarts: a process runner reuses its work dir (and warm caches) under it. */
  poolId: string;
  /** First call: drain (finish the job, take no new one, leave). Second call: give the job back and leave. */
  drain(): void;
  /** Stops it now (SIGKILL); a container is removed as well. */
  kill(): void;
  /**
   * Resolves when it has exited and whatever it left (a container) is removed, with its exit code
   * when known: an ephemeral runner's 0 means it did its one job, anything else is a crash.
   */
  readonly exited: Promise<number | null | void>;
  /** For log lines: `pid 123`, `container 0123abcd`. */
  readonly describe: string;
  /**
   * A survivor made for another configuration than this server's (another image, or ephemeral
   * when the pool is not, or the reverse): the pool drains it instead of adopting it.
   */
  readonly outdated?: boolean;
}

export interface LaunchOptions {
  poolId: string;
  /** The URL the runner reaches the server at. */
  serverUrl: string;
  registrationToken: string;
  /** One job, then the runner exits (`lazyaf runner --ephemeral`); the pool starts a fresh one. */
  ephemeral: boolean;
}

/** The launcher cannot start runners here (no engine, no image): one line for a person, with the fix. */
export class LauncherError extends Error {}

/** How the pool starts runners: child processes (`process`, the default) or containers (`docker`). */
export interface Launcher {
  readonly kind: LauncherKind;
  /** Throws a LauncherError when runners cannot start at all; called once before the pool starts. */
  check(): Promise<void>;
  /**
   * Runners this server started before it last stopped that are still alive (containers outlive a
   * SIGKILLed server; child processes notice and leave on their own, so the process launcher has none).
   * The pool adopts those it wants and drains or kills the rest.
   */
  survivors(want: { ephemeral: boolean }): Promise<LaunchedRunner[]>;
  launch(opts: LaunchOptions): Promise<LaunchedRunner>;
  /**
   * Optional: the pool no longer wants any pool id outside `keep`, so what the launcher keeps for
   * the others (a process runner's work dir and repo caches) can go.
   */
  prune?(keep: ReadonlySet<string>): void;
}

/** Passes a runner's output on to the server log, a non-empty line at a time. */
export function outputForwarder(poolId: string, onOutput: (poolId: string, line: string) => void): (chunk: Buffer) => void {
  return (chunk) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) onOutput(poolId, line);
  };
}

/** This package's CLI, from the same tree as the server that starts it. */
const CLI_PATH = siblingModule(import.meta.url, '../../cli/main');

/** The runner alone in one file (scripts/bundle-runner.js), beside dist/; the runner image runs it too. */
const BUNDLE_PATH = fileURLToPath(new URL('../../bundle/runner.mjs', import.meta.url));

/**
 * Node flags for a pool runner: a young generation of 1 MiB (semi-spaces) instead of up to 16 MiB
 * each. An idle runner holds a few MiB of live objects; the default lets the young generation grow
 * to several MiB of resident memory that a later scavenge never gives back. Measured: 6-9 MiB less
 * RSS per idle runner. A no-op job's submit to its end through a pool runner, interleaved runs on
 * a loaded machine: medians 145-281 ms with it, 134-249 without, within the noise; if P4 or D2
 * ever show it, this is the line to drop.
 */
export const RUNNER_NODE_FLAGS = ['--max-semi-space-size=1'];

/**
 * What a pool runner runs: the bundle when the build made it from the same sources as this tree
 * (it is not older than the runner's entry, which tsc rewrites at every build: a `tsc` alone leaves
 * a stale bundle behind, so the CLI runs instead). The bundle idles at about 18 MiB less than the
 * CLI: one module instead of hundreds, each loaded with its own source and compiled code.
 */
export function runnerEntry(): string[] {
  if (FROM_SOURCE) return [CLI_PATH, 'runner'];
  const bundle = fs.statSync(BUNDLE_PATH, { throwIfNoEntry: false });
  const entry = fs.statSync(siblingModule(import.meta.url, '../../cli/runner-main'), { throwIfNoEntry: false });
  if (bundle && entry && bundle.mtimeMs >= entry.mtimeMs) return [BUNDLE_PATH];
  return [CLI_PATH, 'runner'];
}

/** A folder under the temp dir for one data dir: `<tmp>/lazyaf-<kind>-<12 hex of the data dir's path>`. */
export function tempDirOf(dataDir: string, kind: 'pool' | 'relay'): string {
  const tag = crypto.createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `lazyaf-${kind}-${tag}`);
}

/** Where one server's pool runners keep their caches: under the temp dir, one folder per data dir. */
export function poolWorkRoot(dataDir: string): string {
  return tempDirOf(dataDir, 'pool');
}

/**
 * Starts runners as child processes of the server (`lazyaf runner`), each with its own work dir
 * outside the data dir (a job's sandbox shows neither). The registration token reaches the child
 * through its environment, which its jobs never see; the data dir's path goes along so that the
 * runner hides it from them even where it lies under something the sandbox shows. The agents'
 * credentials in the server's environment stay behind: they travel with each job that needs them.
 */
export class ProcessLauncher implements Launcher {
  readonly kind = 'process' as const;

  constructor(
    private readonly dataDir: string,
    private readonly onOutput: (poolId: string, line: string) => void,
  ) {}

  async check(): Promise<void> {}

  async survivors(): Promise<LaunchedRunner[]> {
    return [];
  }

  async launch({ poolId, serverUrl, registrationToken, ephemeral }: LaunchOptions): Promise<LaunchedRunner> {
    const workdir = path.join(poolWorkRoot(this.dataDir), poolId);
    // An ephemeral runner starts from nothing: no cache a job before it could have touched. A dir
    // that cannot be removed (a job closed or locked something in it) is moved aside, so the slot
    // gets a fresh one instead of failing to start for ever.
    if (ephemeral && workdirHolder(workdir) === undefined) {
      await clearTree(workdir, (aside, why) => this.onOutput(poolId, `could not remove the old work dir, left at ${aside}: ${why.split('\n')[0]}`));
    }
    fs.mkdirSync(workdir, { recursive: true, mode: 0o700 });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LAZYAF_SERVER: serverUrl,
      LAZYAF_TOKEN: registrationToken,
      LAZYAF_POOL_ID: poolId,
      LAZYAF_DATA: this.dataDir,
    };
    if (ephemeral) env.LAZYAF_EPHEMERAL = '1';
    else delete env.LAZYAF_EPHEMERAL;
    delete env.LAZYAF_ADMIN_TOKEN;
    delete env.LAZYAF_REGISTRATION_TOKEN;
    // The server's own pull requests' token: a runner never needs it (its jobs' environment drops LAZYAF_* anyway).
    delete env.LAZYAF_FORGE_TOKEN;
    for (const name of Object.keys(env)) if (isAgentCredential(name)) delete env[name];
    const child: ChildProcess = spawn(process.execPath, [...RUNNER_NODE_FLAGS, ...childExecArgv(), ...runnerEntry(), '--name', poolId, '--workdir', workdir], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C at the server's terminal reaches the server, which then
      // drains the pool in order, instead of every runner at once.
      detached: true,
    });
    const forward = outputForwarder(poolId, this.onOutput);
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code) => resolve(code));
      child.on('error', () => resolve(null));
    });
    return {
      poolId,
      describe: `pid ${child.pid ?? '?'}`,
      exited,
      drain: () => void child.kill('SIGTERM'),
      kill: () => void child.kill('SIGKILL'),
    };
  }

  /** Removes the work dirs of slots the pool no longer holds, but not one a runner still uses (it is leaving). */
  prune(keep: ReadonlySet<string>): void {
    const root = poolWorkRoot(this.dataDir);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(root, { withFileTypes: true });
    } catch {
      return; // No pool has run here yet.
    }
    for (const entry of entries) {
      const dir = path.join(root, entry.name);
      if (!entry.isDirectory() || keep.has(entry.name) || workdirHolder(dir) !== undefined) continue;
      // Those moved aside by an ephemeral launch are tried again here, as quietly as they failed then.
      const discarded = entry.name.startsWith(DISCARDED_PREFIX);
      removeTree(dir).catch(
        (err: Error) => discarded || this.onOutput(entry.name, `could not remove the unused work dir ${dir}: ${err.message.split('\n')[0]}`),
      );
    }
  }
}
