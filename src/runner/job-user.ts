import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { SandboxLayout, Wall } from './sandbox.js';
import { rememberCheckout, type Workspace } from './workspace.js';

/**
 * The wall inside the runner image: the runner runs as root and every job as an unprivileged user
 * (LAZYAF_JOB_USER, `lazyaf` in the image), through util-linux's `setpriv`. A job then cannot read
 * the environment or memory of the runner, of its git processes or of the container's init (which
 * hold the registration token and job tokens), and nothing it starts survives it: every process
 * of the job user is killed after its command and after the job.
 */

/** Part of util-linux, which Debian marks Essential: every bookworm image has it. */
export const SETPRIV = '/usr/bin/setpriv';

const run = promisify(execFile);

/** Links followed from a file on PATH before giving up, as the kernel does (ELOOP). */
const MAX_LINKS = 40;

export interface JobUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** The user's entry in /etc/passwd; a one-line Error when there is none or it is root. */
export function resolveJobUser(name: string, passwd = '/etc/passwd'): JobUser {
  let text: string;
  try {
    text = fs.readFileSync(passwd, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${passwd}: ${(err as Error).message}`);
  }
  const fields = text
    .split('\n')
    .map((line) => line.split(':'))
    .find((f) => f[0] === name);
  if (!fields) throw new Error(`no user ${name} in ${passwd} (LAZYAF_JOB_USER names the user jobs run as)`);
  const [, , uid, gid, , home] = fields;
  const user = { name, uid: Number(uid), gid: Number(gid), home: home ?? '' };
  if (!/^\d+$/.test(uid ?? '') || !/^\d+$/.test(gid ?? '') || !path.isAbsolute(user.home)) throw new Error(`the entry of ${name} in ${passwd} is malformed`);
  if (user.uid === 0 || user.gid === 0) throw new Error(`the job user ${name} is root: jobs must not run as root`);
  return user;
}

export class JobUserWall implements Wall {
  readonly jobEnv: NodeJS.ProcessEnv;
  readonly running: string;
  /**
   * Agents' config and login are the job user's: that is where the image's user mounts them
   * (`-v ~/.claude:/home/lazyaf/.claude`; uid 1000 keeps their owner), and where an agent run by
   * the job user before agents had adapters read them. The runner's own HOME (root's) holds none.
   */
  readonly agentConfigHome: string;
  private readonly prefix: string[];

  constructor(
    private readonly user: JobUser,
    private readonly workdir: string,
    setpriv = SETPRIV,
  ) {
    // No supplementary groups, no capabilities now or through any setuid binary later. The user's
    // own HOME for everything wrapped, git's upload-pack included (started by the runner's git, in
    // root's environment): git would warn it cannot read root's ~/.config/git.
    this.jobEnv = { HOME: user.home, USER: user.name, LOGNAME: user.name };
    const identity = Object.entries(this.jobEnv).map(([k, v]) => `${k}=${v}`);
    this.prefix = [
      setpriv,
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      '--clear-groups',
      '--no-new-privs',
      '--bounding-set=-all',
      '--inh-caps=-all',
      '--',
      '/usr/bin/env',
      ...identity,
    ];
    this.running = `running in the runner's container as ${user.name} (uid ${user.uid})`;
    this.agentConfigHome = user.home;
  }

  wrap(argv: string[], layout?: SandboxLayout): string[] {
    // An agent run's HOME of its own replaces the user's (env takes the last of a name).
    return [...this.prefix, ...(layout?.home ? [`HOME=${layout.home}`] : []), ...argv];
  }

  /** Whether the job user can run this file: see whyNotRunnable. */
  canRun(file: string): boolean {
    return this.whyNotRunnable(file) === undefined;
  }

  /**
   * Why the job user cannot run this file, by mode bits (the runner, root, may run anything): every
   * folder on the way must let it in, at each link of the chain (`/usr/local/bin/claude` → a
   * prefix's `.bin/claude` → the package's file), and the file must let it execute.
   */
  whyNotRunnable(file: string): string | undefined {
    const who = `${this.user.name} (uid ${this.user.uid})`;
    let at = path.resolve(file);
    for (let hops = 0; hops < MAX_LINKS; hops++) {
      const closed = this.closedFolder(path.dirname(at));
      if (closed) return `${who} cannot enter ${closed}`;
      let st: fs.Stats;
      try {
        st = fs.lstatSync(at);
      } catch (err) {
        return (err as Error).message;
      }
      if (!st.isSymbolicLink()) {
        if (!st.isFile()) return `${at} is not a file`;
        return this.allows(st, 1) ? undefined : `${who} may not execute ${at}`;
      }
      at = path.resolve(path.dirname(at), fs.readlinkSync(at));
    }
    return `more than ${MAX_LINKS} links from ${file}`;
  }

  /** The first folder from / down to `dir` the job user may not enter, if any. */
  private closedFolder(dir: string): string | undefined {
    let at = '/';
    for (const part of dir.split('/').filter(Boolean)) {
      at = path.join(at, part);
      try {
        if (!this.allows(fs.statSync(at), 1)) return at;
      } catch {
        return at;
      }
    }
    return undefined;
  }

  /** Whether the mode bits give the job user `bit` (1 execute or enter, 2 write, 4 read); it has no supplementary groups. */
  private allows(st: fs.Stats, bit: number): boolean {
    const shift = st.uid === this.user.uid ? 6 : st.gid === this.user.gid ? 3 : 0;
    return ((st.mode >> shift) & bit) !== 0;
  }

  /**
   * Hands the job its checkout (written by the runner's git as root) and its prompt file, and opens
   * the way to its repo cache's objects, read-only. The work dir and its folders are traversable,
   * not listable, and every other checkout and cache stays closed (0700, root's).
   */
  async admit(ws: Pick<Workspace, 'dir' | 'cacheDir' | 'jobDir' | 'promptFile'>): Promise<void> {
    for (const dir of [this.workdir, ...['work', 'cache', 'jobs'].map((d) => path.join(this.workdir, d)), ws.cacheDir]) fs.chmodSync(dir, 0o711);
    // Only what is not the job user's yet (what the runner's git wrote as root): a chown changes a
    // file's ctime, and the runner's index must keep matching the files it did not write (see
    // rememberCheckout). find does not follow links; -h changes a link the previous job left, not
    // what it points to.
    const { uid, gid } = this.user;
    await run('find', [
      ws.dir,
      '(',
      '!',
      '-user',
      String(uid),
      '-o',
      '!',
      '-group',
      String(gid),
      ')',
      '-exec',
      'chown',
      '-h',
      `${uid}:${gid}`,
      '--',
      '{}',
      '+',
    ]);
    await rememberCheckout(ws);
    // The job's files: its prompt, and an agent run's HOME (the runner's copy of the agent's config).
    await run('chown', ['-R', '-h', `${uid}:${gid}`, '--', ws.jobDir]);
  }

  /** Kills every process of the job user (kill -1 spares the caller itself and anything not its user's, root's runner included). */
  async sweep(): Promise<void> {
    await run(this.prefix[0]!, [...this.prefix.slice(1), 'sh', '-c', 'kill -9 -1 2>/dev/null; exit 0'], { timeout: 10_000 });
  }

  /** After the job: nothing of it runs on, and its checkout and cache are closed to the next job, of whatever repo. */
  async dismiss(ws: Pick<Workspace, 'dir' | 'cacheDir'>): Promise<void> {
    await this.sweep();
    this.close(ws.dir);
    fs.chmodSync(ws.cacheDir, 0o700);
  }

  /** At start: whatever an earlier runner in this work dir left open is closed (it may have died between admit and dismiss). */
  async reclaim(): Promise<void> {
    await this.sweep();
    for (const parent of ['work', 'cache']) {
      const dir = path.join(this.workdir, parent);
      if (!fs.existsSync(dir)) continue;
      for (const name of fs.readdirSync(dir)) this.close(path.join(dir, name));
    }
  }

  private close(dir: string): void {
    fs.lchownSync(dir, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
    if (!fs.lstatSync(dir).isSymbolicLink()) fs.chmodSync(dir, 0o700);
  }
}
