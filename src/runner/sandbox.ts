import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { runCommand } from './execute.js';
import { lstat } from './files.js';
import type { JobNetwork } from './job-network.js';
import type { Workspace } from './workspace.js';

/**
 * The wall around a job on a process runner: bubblewrap (`bwrap`), as Flatpak and the coding
 * agents' own Linux sandboxes use. A job sees the system read-only, its own workspace
 * read-write, a fresh /tmp and HOME, its own pid namespace (so not the runner's
 * /proc/<pid>/environ with the registration token), and nothing of the runner's work dir (other
 * workspaces, repo caches), the server's data dir or the user's home (the job's command gets a
 * HOME of its own, with a copy of the agents' config and login: agent-run.ts; git reading its
 * repository, an empty one). The job's command gets a network of its own, outbound only
 * (`job-network.ts`); git reading its repository gets none at all.
 */

/**
 * `auto`: sandbox where bwrap works, else run unsandboxed and say so loudly; `require`: refuse to
 * run without it; `off`: never; `container`: the runner runs in a container of its own (the
 * runner image sets it), which is the jobs' wall, so no bubblewrap inside it.
 */
export type SandboxMode = 'auto' | 'require' | 'off' | 'container';
export const SANDBOX_MODES: readonly SandboxMode[] = ['auto', 'require', 'off', 'container'];

/** Top-level system folders shown read-only (or re-created as the same symlink, as on merged-/usr systems). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc'];

/** Where /etc/resolv.conf may point on systemd machines: name resolution must keep working. */
const RESOLVER_DIRS = ['/run/systemd/resolve', '/run/resolvconf'];

/** Where agent CLIs and their runtimes are commonly installed under HOME: read-only. */
const TOOL_HOME_ENTRIES = [
  '.local/bin',
  '.local/share/claude',
  '.local/share/uv',
  '.local/pipx',
  '.npm-global',
  '.nvm',
  '.volta',
  '.bun',
  '.deno',
  '.cargo/bin',
];

export interface SandboxLayout {
  /** The folder the job works in, shown read-write at the same path; the job starts there. */
  workspace: string;
  /** Shown read-only at the same path (the repo cache's objects, the prompt file). */
  readOnly?: string[];
  /** Whether the workspace is read-only too (the runner reading the job's result). */
  workspaceReadOnly?: boolean;
  /** The job's own command reaches the world (its agent's API); git reading its repository needs no network at all. */
  network?: boolean;
  /**
   * An agent run's own HOME (a fresh copy of the agent's config, outside the checkout), shown
   * read-write at the same path instead of the runner's agent config dirs, which it then does not see.
   */
  home?: string;
}

/**
 * What walls a job in: it wraps the argument vector of the job's command and of every git command
 * that reads the job's repository. `Sandbox` (bubblewrap) on a process runner, `JobUserWall`
 * (another user) inside the runner image.
 */
export interface Wall {
  wrap(argv: string[], layout: SandboxLayout): string[];
  /** What the job's command gets in its environment from the wall. */
  readonly jobEnv: NodeJS.ProcessEnv;
  /** The line in the job's log as its command starts. */
  readonly running: string;
  /** Before the command: gives the job what it must write and read. */
  admit?(ws: Pick<Workspace, 'dir' | 'cacheDir' | 'jobDir' | 'promptFile'>): Promise<void>;
  /** After the command: ends whatever it left running. */
  sweep?(): Promise<void>;
  /** After the job: ends whatever it left running and takes its files back. */
  dismiss?(ws: Pick<Workspace, 'dir' | 'cacheDir'>): Promise<void>;
  /** Whether a job behind this wall can run this file (it sees it, and may execute it). */
  canRun?(file: string): boolean;
  /** The HOME whose agent config and login an agent run gets a copy of, when not the runner's own (the job user's). */
  readonly agentConfigHome?: string;
  /** Why a job behind this wall cannot run this file, in a few words; undefined when it can. */
  whyNotRunnable?(file: string): string | undefined;
}

export interface SandboxOptions {
  /** Folders that must stay invisible even when they lie under something shown (the runner's work dir, the server's data dir). */
  hide: string[];
  /** Extra paths shown read-write (agents' state the defaults do not cover). */
  share?: string[];
  home?: string;
  /** Default: `bwrap` on PATH. */
  bwrap?: string;
  /** Bytes each of the job's tmpfs mounts may hold (/tmp, /var/tmp, /dev/shm); 0 or none: the kernel's default, half the RAM each. */
  tmpfsBytes?: number;
  /** The job command's own network; without it, jobs share the host's. */
  network?: JobNetwork;
}

export class Sandbox implements Wall {
  private readonly base: BaseLayout;
  readonly bwrap: string;
  readonly network: JobNetwork | undefined;
  readonly jobEnv = { TMPDIR: '/tmp' };
  readonly running = 'running';

  constructor(opts: SandboxOptions) {
    this.bwrap = opts.bwrap ?? 'bwrap';
    this.network = opts.network;
    this.base = baseLayout(opts);
  }

  /** An executable file the job sees: under a folder shown to it, by its path and by where its links lead. */
  canRun(file: string): boolean {
    return this.whyNotRunnable(file) === undefined;
  }

  whyNotRunnable(file: string): string | undefined {
    if (!isExecutableFile(file)) return 'not an executable file';
    let real: string;
    try {
      real = fs.realpathSync(file);
    } catch (err) {
      return (err as Error).message;
    }
    if (!this.shows(file)) return `the sandbox does not show ${path.dirname(file)}`;
    if (!this.shows(real)) return `it leads to ${real}, which the sandbox does not show`;
    return undefined;
  }

  /** Whether `p` is visible in the sandbox at the same path (a top-level system link read as its target). */
  private shows(p: string): boolean {
    const { shown, hidden, home, links } = this.base;
    let at = path.resolve(p);
    for (const [link, target] of links) if (isUnder(at, link)) at = path.join(target, path.relative(link, at));
    // Hidden folders are covered last, over anything; HOME is covered first, and its shown entries bound over it.
    if (hidden.some((h) => isUnder(at, h))) return false;
    const deepestShown = Math.max(-1, ...shown.filter((s) => isUnder(at, s)).map((s) => s.length));
    return deepestShown > (isUnder(at, home) ? home.length : -1);
  }

  /** The argument vector that runs `argv` inside the sandbox. */
  wrap(argv: string[], layout: SandboxLayout): string[] {
    const ws = path.resolve(layout.workspace);
    const args = [this.bwrap, ...this.base.args, layout.workspaceReadOnly ? '--ro-bind' : '--bind', ws, ws];
    if (layout.home) args.push('--bind', path.resolve(layout.home), path.resolve(layout.home));
    for (const p of layout.readOnly ?? []) args.push('--ro-bind', path.resolve(p), path.resolve(p));
    // Last, once every mount point is made: what is left writable of the root and of /dev is
    // memory nobody sized. The job writes its workspace and its sized tmpfs mounts only.
    for (const p of this.base.sealed) args.push('--remount-ro', p);
    if (layout.network) args.push(...(this.network?.bwrapArgs() ?? ['--share-net']));
    args.push('--chdir', ws, '--', ...argv);
    return layout.network && this.network ? this.network.wrap(args) : args;
  }

  /** Runs `true` inside the sandbox (on the job's network with `network`); resolves with the complaint when it cannot work here, else undefined. */
  async probe(network = false): Promise<string | undefined> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lazyaf-sandbox-probe-'));
    try {
      const [cmd, ...args] = this.wrap(['true'], { workspace: dir, network });
      // As a job's command runs: in a process group of its own, killed whole once it exits. A
      // pasta that fails (no /dev/net/tun for this user) exits, but leaves a child that waits for
      // ever, as the init of its own pid namespace (deaf to SIGTERM), holding stderr open.
      let said = '';
      const output = new PassThrough().on('data', (c: Buffer) => (said = (said + c.toString('utf8')).slice(-4000)));
      const result = await runCommand({ command: [cmd!, ...args], cwd: dir, env: process.env, timeoutMs: 10_000, output, killGraceMs: 100 });
      if (result.spawnError) return /ENOENT/.test(result.spawnError) ? `${this.bwrap} is not installed` : result.spawnError;
      if (result.exitCode === 0) return undefined;
      // pasta says when it cannot reach syslog before each of its lines: the last line that is not that one.
      const complaint = said
        .split('\n')
        .filter((l) => l.trim() && !/^Failed to send \d+ bytes to syslog$/.test(l))
        .at(-1)
        ?.trim();
      return complaint || (result.timedOut ? `${cmd} did not finish within 10 s` : `${cmd} exited with code ${result.exitCode}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** The arguments every sandbox starts with, and what they show: folders, and top-level links to them. */
interface BaseLayout {
  /** Before the runner's agent config dirs, those dirs (left out for an agent run with a HOME of its own), after them. */
  args: string[];
  /** tmpfs mounts made read-only once everything is mounted on them. */
  sealed: string[];
  shown: string[];
  hidden: string[];
  home: string;
  links: [string, string][];
}

function baseLayout(opts: SandboxOptions): BaseLayout {
  const home = path.resolve(opts.home ?? os.homedir());
  // Every namespace, the network's too unless the layout asks for one; no capabilities even for root; the job dies with its runner.
  const args = ['--unshare-all', '--die-with-parent', '--cap-drop', 'ALL'];
  const shown: string[] = [];
  const links: [string, string][] = [];
  const show = (flag: '--ro-bind' | '--bind', p: string) => {
    args.push(flag, p, p);
    shown.push(p);
  };
  for (const dir of SYSTEM_DIRS) {
    const stat = lstat(dir);
    if (stat?.isSymbolicLink()) {
      const target = fs.readlinkSync(dir);
      args.push('--symlink', target, dir);
      links.push([dir, path.resolve(path.dirname(dir), target)]);
    } else if (stat?.isDirectory()) show('--ro-bind', dir);
  }
  for (const dir of RESOLVER_DIRS) if (isDir(dir)) show('--ro-bind', dir);
  // bwrap's --size applies to the --tmpfs that follows it.
  const tmpfs = (dir: string) => args.push(...(opts.tmpfsBytes ? ['--size', String(opts.tmpfsBytes)] : []), '--tmpfs', dir);
  args.push('--proc', '/proc', '--dev', '/dev');
  for (const dir of ['/dev/shm', '/tmp', '/var/tmp']) tmpfs(dir);

  // Node and the agent CLIs: where node is installed, and every PATH entry outside the system dirs.
  const pathDirs = (process.env.PATH ?? '').split(':').filter((p) => path.isAbsolute(p));
  const extras = [path.dirname(path.dirname(process.execPath)), ...pathDirs];
  const hidden = opts.hide.map((p) => path.resolve(p));
  const isHidden = (p: string) => hidden.some((h) => isUnder(p, h) || isUnder(h, p));
  for (const p of extras) {
    if (!path.isAbsolute(p) || !isDir(p) || p === '/' || isHidden(p) || shown.some((s) => isUnder(p, s))) continue;
    if (isUnder(p, home) && !TOOL_HOME_ENTRIES.some((e) => isUnder(p, path.join(home, e)))) continue;
    show('--ro-bind', p);
  }

  // A HOME of its own, with only the tools of the real one (a job's command gets its own HOME bound over it).
  tmpfs(home);
  for (const entry of TOOL_HOME_ENTRIES) {
    const p = path.join(home, entry);
    if (exists(p) && !shown.includes(p)) show('--ro-bind', p);
  }
  for (const p of opts.share ?? []) if (exists(p)) show('--bind', path.resolve(p));
  // Last of what is shown, so that one under HOME lies over its tmpfs.
  for (const p of linkedPackageFolders(pathDirs)) if (!isHidden(p) && !shown.some((s) => isUnder(p, s))) show('--ro-bind', p);

  // A secret folder under something shown is covered by an empty tmpfs, read-only in the end.
  const covers = hidden.filter((h) => shown.some((s) => isUnder(h, s)));
  for (const h of covers) args.push('--tmpfs', h);
  return { args, sealed: ['/', '/dev', ...covers], shown, hidden, home, links };
}

/**
 * The node_modules folders that links on PATH lead into: `npm i -g` and nvm put `bin/claude` ->
 * `../lib/node_modules/@anthropic-ai/claude-code/...`, `npm install --prefix DIR` puts
 * `DIR/node_modules/.bin/codex` -> `../@openai/codex/bin/codex.js`. Shown read-only, whole (the
 * outermost node_modules of the link's target), since a CLI installed with --prefix loads packages
 * beside its own (codex its platform binary, `@openai/codex-linux-x64`).
 */
function linkedPackageFolders(pathDirs: string[]): string[] {
  const folders = new Set<string>();
  for (const dir of pathDirs) {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (!entry.isSymbolicLink()) continue;
      let real: string;
      try {
        real = fs.realpathSync(path.join(dir, entry.name));
      } catch {
        continue;
      }
      const at = real.indexOf('/node_modules/');
      if (at > 0) folders.add(real.slice(0, at + '/node_modules'.length));
    }
  }
  return [...folders];
}

/** Whether this process runs in a container: Docker and Podman leave these files at its root. */
export function inContainer(root = '/'): boolean {
  return exists(path.join(root, '.dockerenv')) || exists(path.join(root, 'run/.containerenv'));
}

function isUnder(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** A regular file (links followed) this process may execute. */
export function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function exists(p: string): boolean {
  return lstat(p) !== undefined;
}
