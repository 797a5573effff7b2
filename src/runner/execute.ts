import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Writable } from 'node:stream';

export interface CommandOptions {
  /** A shell command (run with `sh -c`) or an argument vector; either way in its own process group. */
  command: string | readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Kill the process group after this long; 0 = no limit. */
  timeoutMs: number;
  /** Receives stdout and stderr, interleaved as they come; its backpressure pauses the pipes. Not ended here. */
  output: Writable;
  /** Aborting kills the process group (cancel, lost lease, giving the job back). */
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL. */
  killGraceMs?: number;
  /** Written to the command's stdin, which is then closed; without it stdin is empty (closed at once). */
  stdin?: string;
  /** Also receives stdout alone, as it comes (an agent's event stream), besides `output`. */
  onStdout?: (chunk: string) => void;
  /** Also receives stderr alone, as it comes. */
  onStderr?: (chunk: string) => void;
}

export interface CommandResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  /** The command could not be started at all. */
  spawnError?: string;
}

/**
 * Runs a job's command and resolves once it exited and its output was read to the end. The shell
 * leads a process group of its own, so a timeout or a cancel reaches everything it started:
 * SIGTERM to the group, SIGKILL after a grace period. Whatever the command left running in the
 * background when it exited is stopped the same way, so no job outlives itself.
 */
export function runCommand(opts: CommandOptions): Promise<CommandResult> {
  const grace = opts.killGraceMs ?? 3000;
  return new Promise((resolve) => {
    const result: CommandResult = { exitCode: null, signal: null, timedOut: false, aborted: false };
    const [file, ...args] = typeof opts.command === 'string' ? ['sh', '-c', opts.command] : opts.command;
    const child = spawn(file!, args, { cwd: opts.cwd, env: execEnv(opts.env), detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    // Closed at once when there is nothing to write: the command reads end of file. One that exits
    // without reading all of it closes the pipe: its business, not an error.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin ?? '');
    const timers: NodeJS.Timeout[] = [];
    let terminating = false;

    const signalGroup = (sig: NodeJS.Signals | 0): boolean => {
      if (child.pid === undefined) return false;
      try {
        process.kill(-child.pid, sig);
        return true;
      } catch {
        return false; // The group is gone already.
      }
    };
    const terminate = () => {
      if (terminating) return;
      terminating = true;
      if (signalGroup('SIGTERM')) timers.push(setTimeout(() => signalGroup('SIGKILL'), grace));
      // A process that left the group (setsid) can still hold the pipes open, even when the group
      // is gone already: stop reading them at last, or the command would never end.
      timers.push(
        setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
        }, grace + 1000),
      );
    };
    const onAbort = () => {
      result.aborted = true;
      terminate();
    };

    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      stream.pipe(opts.output, { end: false });
    }
    if (opts.onStdout) child.stdout.on('data', opts.onStdout);
    if (opts.onStderr) child.stderr.on('data', opts.onStderr);
    if (opts.timeoutMs > 0) {
      timers.push(
        setTimeout(() => {
          result.timedOut = true;
          terminate();
        }, opts.timeoutMs),
      );
    }
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = () => {
      for (const t of timers) clearTimeout(t);
      opts.signal?.removeEventListener('abort', onAbort);
      child.stdout.unpipe(opts.output);
      child.stderr.unpipe(opts.output);
      // The shell is gone, but what it left in its group may still be writing: the commit that
      // keeps the job's work comes only after the whole group is gone.
      void groupGone(signalGroup, () => child.pid !== undefined && groupHasLiving(child.pid), grace).then(() => resolve(result));
    };
    child.on('error', (err) => {
      result.spawnError = err.message;
      finish();
    });
    child.on('exit', (code, signal) => {
      result.exitCode = code;
      result.signal = signal;
      terminate(); // Background leftovers, if any.
    });
    child.on('close', finish);
  });
}

/**
 * Resolves once no process of the group is left: those that outlived their shell had SIGTERM and
 * get `grace` to leave, then SIGKILL. Immediate when the group is gone already (the usual case).
 */
async function groupGone(signalGroup: (sig: NodeJS.Signals | 0) => boolean, living: () => boolean, grace: number): Promise<void> {
  const started = Date.now();
  let killed = false;
  while (living()) {
    if (!killed && Date.now() - started >= grace) killed = signalGroup('SIGKILL');
    // A process stuck in the kernel may not die at once: bounded, so the runner goes on.
    if (Date.now() - started > grace + 5000) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Whether a process of group `pgid` is still running. A zombie counts as gone: it writes nothing,
 * and an orphan's zombie waits for whoever reaps for the machine (or container), which some inits
 * do late: counting them made every job wait out the kill grace (a no-op job: 4 s instead of 0.1).
 * Where /proc cannot tell, any member of the group counts.
 */
export function groupHasLiving(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // Gone meanwhile.
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so read after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

/**
 * The environment as exec can carry it: a NUL byte ends a C string, so Node refuses any value
 * holding one. Job text may (a title sent as JSON, a README of zeros in the prompt): each NUL
 * becomes U+FFFD, the replacement character, rather than failing the job.
 */
function execEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value.replaceAll('\0', '\ufffd');
  return out;
}
