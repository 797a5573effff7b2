import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * One runner per work dir: its pid in `<workdir>/runner.pid`. A pool slot's work dir outlives the
 * server that started it, and a runner of a SIGKILLed server may still be giving its job back
 * when the restarted server starts the same slot; two runners in one repo cache would corrupt it.
 * Shared because the server (removing the work dirs of slots it no longer wants) reads it too.
 */
const LOCK_FILE = 'runner.pid';

/** The pid of the live process holding `workdir`, or undefined when none does. */
export function workdirHolder(workdir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(workdir, LOCK_FILE), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: alive, under another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return isRunner(pid) ? pid : undefined;
}

/** Whether `pid` is a `lazyaf runner`, where /proc tells (Linux): a pid from an old file may belong to anything now. */
function isRunner(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    // `lazyaf runner ...`, or the runner image's bundle (`node .../runner.mjs ...`).
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.includes('runner') || args.some((a) => a.endsWith('/runner.mjs'));
  } catch {
    return !fs.existsSync('/proc/self'); // No /proc: trust the pid.
  }
}

/**
 * Takes `workdir` for this process: waits while another live process holds it, at most `waitMs`
 * (a leaving runner gives its job back within seconds), then takes it anyway so a stuck holder
 * cannot keep a slot from running. Returns the release.
 */
export async function lockWorkdir(workdir: string, opts: { waitMs: number; log: (line: string) => void; signal?: AbortSignal }): Promise<() => void> {
  const file = path.join(workdir, LOCK_FILE);
  const deadline = Date.now() + opts.waitMs;
  let told = false;
  for (;;) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = workdirHolder(workdir);
    if (holder !== undefined && holder !== process.pid && Date.now() < deadline) {
      if (!told) opts.log(`waiting for the runner with pid ${holder} to leave ${workdir}`);
      told = true;
      await delay(200, undefined, { signal: opts.signal });
      continue;
    }
    if (holder !== undefined && holder !== process.pid) opts.log(`the runner with pid ${holder} still holds ${workdir}; taking it over`);
    fs.rmSync(file, { force: true });
  }
  return () => {
    if (workdirHolder(workdir) === process.pid) fs.rmSync(file, { force: true });
  };
}
