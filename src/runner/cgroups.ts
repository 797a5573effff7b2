import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Control groups, read and written through their file systems (no library, no daemon): where this
 * process's own groups are, a group per job below them with its limits, what the job hit, and the
 * removal of the group with whatever still runs in it. Both versions: cgroup v2 (one hierarchy,
 * `/sys/fs/cgroup/cgroup.controllers`) and v1 (one hierarchy per controller, `/sys/fs/cgroup/pids`
 * and `/sys/fs/cgroup/memory`), as machines still run both.
 */

export type Controller = 'pids' | 'memory';

/** Where a controller is, for this process: the directory of its own group. */
export interface OwnGroup {
  version: 1 | 2;
  controller: Controller;
  dir: string;
}

interface Mount {
  root: string;
  point: string;
  fstype: string;
  options: string[];
}

function readMounts(file: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of readText(file)?.split('\n') ?? []) {
    // id parent major:minor root mount-point options [optional fields...] - fstype source super-options
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const f = left.split(' ');
    const [fstype, , superOptions] = right.split(' ');
    if (f.length < 5 || !fstype) continue;
    mounts.push({ root: unescapeMount(f[3]!), point: unescapeMount(f[4]!), fstype, options: (superOptions ?? '').split(',') });
  }
  return mounts;
}

/** mountinfo writes a space, tab, newline and backslash in a path as octal escapes. */
function unescapeMount(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * The directory of this process's own group for each controller it can use: from
 * /proc/self/cgroup (the group's path) and /proc/self/mountinfo (where that hierarchy is mounted,
 * and from which of its groups: in a container, the mount's root is the container's own group).
 * cgroup v2 wins when it holds the controller.
 */
export function ownGroups(proc = '/proc/self'): OwnGroup[] {
  const mounts = readMounts(path.join(proc, 'mountinfo'));
  const found = new Map<Controller, OwnGroup>();
  for (const line of readText(path.join(proc, 'cgroup'))?.split('\n') ?? []) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, id, list, own] = m as unknown as [string, string, string, string];
    const v2 = id === '0' && list === '';
    for (const mount of mounts) {
      if (v2 ? mount.fstype !== 'cgroup2' : mount.fstype !== 'cgroup') continue;
      const rel = path.posix.relative(mount.root, own);
      if (rel.startsWith('..')) continue;
      const dir = path.join(mount.point, rel);
      const controllers = v2 ? (readText(path.join(dir, 'cgroup.controllers'))?.trim().split(/\s+/) ?? []) : list.split(',');
      for (const c of ['pids', 'memory'] as const) {
        if (!controllers.includes(c) || (!v2 && !mount.options.includes(c))) continue;
        if (found.get(c)?.version !== 2) found.set(c, { version: v2 ? 2 : 1, controller: c, dir });
      }
    }
  }
  return [...found.values()];
}

/** The limit a controller's group holds: the file and how a limit is written there. */
function limitFiles(g: OwnGroup, value: number): [string, string][] {
  if (g.controller === 'pids') return [['pids.max', String(value)]];
  // No swap beyond the limit: a job that swaps out would only be slower to reach it.
  if (g.version === 2)
    return [
      ['memory.max', String(value)],
      ['memory.swap.max', '0'],
    ];
  return [
    ['memory.limit_in_bytes', String(value)],
    ['memory.memsw.limit_in_bytes', String(value)],
  ];
}

/** The counter that says the job hit the limit: fork refused at pids.max, or a process killed at the memory limit. */
export function breachCount(g: Pick<OwnGroup, 'version' | 'controller'>, dir: string): number {
  if (g.controller === 'pids') return counter(path.join(dir, 'pids.events'), 'max');
  return counter(path.join(dir, g.version === 2 ? 'memory.events' : 'memory.oom_control'), 'oom_kill');
}

/** The limit a group holds (pids.max, memory.max or memory.limit_in_bytes), or undefined for none. */
export function heldLimit(g: OwnGroup): number | undefined {
  const file = g.controller === 'pids' ? 'pids.max' : g.version === 2 ? 'memory.max' : 'memory.limit_in_bytes';
  const raw = readText(path.join(g.dir, file))?.trim();
  const value = Number(raw);
  // cgroup v1 says "no limit" with the largest page-aligned 63-bit number.
  return raw && raw !== 'max' && Number.isFinite(value) && value < 2 ** 62 ? value : undefined;
}

function counter(file: string, key: string): number {
  const line = readText(file)
    ?.split('\n')
    .find((l) => l.startsWith(`${key} `));
  return Number(line?.split(' ')[1] ?? 0) || 0;
}

/** The groups of one runner's jobs, under the runner's own groups: `lazyaf-runner-<pid>-<random>/job-<n>` (a process may hold several runners). */
export class JobGroups {
  private readonly runnerDirs: Map<OwnGroup, string>;
  private serial = 0;

  constructor(
    private readonly groups: OwnGroup[],
    private readonly limits: Record<Controller, number>,
  ) {
    const name = `lazyaf-runner-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
    this.runnerDirs = new Map(groups.map((g) => [g, path.join(g.dir, name)]));
  }

  /**
   * Makes the runner's groups (after removing those of runners that died) and, on cgroup v2,
   * hands the controllers down to the jobs' groups. Throws where this process may not.
   */
  async prepare(): Promise<void> {
    for (const g of this.groups) await removeStale(g.dir);
    for (const [g, dir] of this.runnerDirs) {
      fs.mkdirSync(dir, { recursive: true });
      if (g.version !== 2) continue;
      // A controller reaches a group only through every parent's subtree_control. Our own group
      // can pass it on only when no process sits in it (the root group excepted): where that
      // fails, cgroups cannot be used from here (systemd-run can).
      if (!readText(path.join(dir, 'cgroup.controllers'))?.split(/\s+/).includes(g.controller)) {
        fs.writeFileSync(path.join(g.dir, 'cgroup.subtree_control'), `+${g.controller}`);
      }
      fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), `+${g.controller}`);
    }
  }

  /** A new group for one job, its limits written; its `procs` files take the job's first process. */
  open(): JobGroup {
    const name = `job-${++this.serial}`;
    const parts: [OwnGroup, string][] = [];
    const group = new JobGroup(parts);
    try {
      for (const [g, runnerDir] of this.runnerDirs) {
        const dir = path.join(runnerDir, name);
        // On cgroup v2 both controllers share one group.
        if (!parts.some(([, d]) => d === dir)) fs.mkdirSync(dir);
        parts.push([g, dir]);
        for (const [file, value] of limitFiles(g, this.limits[g.controller])) {
          try {
            fs.writeFileSync(path.join(dir, file), value);
          } catch (err) {
            // Swap accounting is optional in the kernel: without it there is no swap to limit.
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !file.includes('sw')) throw err;
          }
        }
      }
    } catch (err) {
      void group.close();
      throw err;
    }
    return group;
  }

  /** Removes the runner's own groups (its jobs' groups are gone by then). */
  async close(): Promise<void> {
    for (const dir of new Set(this.runnerDirs.values())) await removeGroup(dir);
  }
}

export class JobGroup {
  constructor(private readonly parts: [OwnGroup, string][]) {}

  /** The files the job's first process writes its pid to, once in each hierarchy (one on cgroup v2). */
  get procsFiles(): string[] {
    return [...new Set(this.parts.map(([, dir]) => dir))].map((dir) => path.join(dir, 'cgroup.procs'));
  }

  /** The controllers whose limit the job hit. */
  breached(): Controller[] {
    return this.parts.filter(([g, dir]) => breachCount(g, dir) > 0).map(([g]) => g.controller);
  }

  /** Kills every process of the group, as many rounds as it takes (a job may fork while it dies), within a few seconds. */
  async killAll(): Promise<void> {
    for (const dir of new Set(this.parts.map(([, d]) => d))) await killGroup(dir);
  }

  async close(): Promise<void> {
    for (const dir of new Set(this.parts.map(([, d]) => d))) await removeGroup(dir);
  }
}

function pidsIn(dir: string): number[] {
  return (readText(path.join(dir, 'cgroup.procs')) ?? '').split('\n').filter(Boolean).map(Number);
}

async function killGroup(dir: string): Promise<void> {
  // cgroup v2 (Linux 5.14) kills a whole group at once, forks in flight included.
  try {
    fs.writeFileSync(path.join(dir, 'cgroup.kill'), '1');
  } catch {
    // cgroup v1, or an older kernel: one process at a time below.
  }
  for (let round = 0; round < 100; round++) {
    const pids = pidsIn(dir);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
    await delay(Math.min(10 * (round + 1), 100));
  }
}

/**
 * Kills what is left and removes the group. A memory group that held a job's tmpfs is released a
 * moment after its last process (the mount goes with the namespace): rmdir is tried for a while.
 */
async function removeGroup(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  await killGroup(dir);
  for (let i = 0; i < 50; i++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw err;
    }
    await delay(100);
  }
}

/** Groups of runners that died without removing theirs (SIGKILL): their jobs' leftovers are killed, the groups removed. */
async function removeStale(ownDir: string): Promise<void> {
  let names: string[];
  try {
    names = fs.readdirSync(ownDir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = /^lazyaf-runner-(\d+)-[0-9a-f]+$/.exec(name)?.[1];
    if (!pid || isAlive(Number(pid))) continue;
    const dir = path.join(ownDir, name);
    for (const job of fs.readdirSync(dir).filter((n) => n.startsWith('job-'))) await removeGroup(path.join(dir, job)).catch(() => {});
    await removeGroup(dir).catch(() => {});
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
