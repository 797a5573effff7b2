import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Every child process and temp dir the bench makes is registered here, so that they are killed
 * and removed at the end, on failure, and on Ctrl-C alike.
 */
const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => children.delete(child));
  return child;
}

export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Synchronous, so it also runs from process.on('exit'). */
export function cleanupAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Stops one long-lived child: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface RunResult {
  seconds: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env: NodeJS.ProcessEnv;
  /** Fed to stdin; a function may write a stream of any size (with backpressure) and must end it. */
  input?: string | ((stdin: NodeJS.WritableStream) => Promise<void>);
  timeoutMs?: number;
}

/** Runs a command to completion (no shell), timing it from spawn to exit; throws with its stderr if it fails. */
export function run(cmd: string, args: string[], opts: RunOptions): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const spawnOpts: SpawnOptions = { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] };
    const child = track(spawn(cmd, args, spawnOpts));
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let errBytes = 0;
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => {
      // Keep the tail only: git's progress output can be long.
      err.push(c);
      errBytes += c.length;
      while (errBytes > 256 * 1024 && err.length > 1) errBytes -= err.shift()!.length;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = (performance.now() - started) / 1000;
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) return resolve({ seconds, stdout, stderr });
      const why = timedOut ? `timed out after ${timeoutMs / 1000}s` : `exit ${code ?? signal}`;
      const message = `${cmd} ${args.join(' ')} failed (${why}):\n${stderr.trim().split('\n').slice(-15).join('\n')}`;
      // URLs may carry a token as their password.
      reject(new Error(message.replace(/\/\/[^/@\s]+@/g, '//***@')));
    });
    const stdin = child.stdin!;
    stdin.on('error', () => {});
    if (typeof opts.input === 'function') {
      opts.input(stdin).catch((e: Error) => {
        child.kill('SIGKILL');
        reject(e);
      });
    } else {
      stdin.end(opts.input ?? '');
    }
  });
}

/** Writes to a stream, waiting for 'drain' when its buffer is full. */
export async function write(stream: NodeJS.WritableStream, chunk: Buffer | string): Promise<void> {
  if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once('drain', resolve));
}

/**
 * Waits for a line matching `re` on a child's stderr (or stdout); rejects if the child exits
 * first or `timeoutMs` passes. Keeps draining afterwards, holding the tail for diagnostics.
 */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    let done = false;
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${re}; output so far:\n${seen}`)), timeoutMs);
    const finish = (result: RegExpExecArray | Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onData = (c: Buffer) => {
      seen = (seen + c.toString('utf8')).slice(-64 * 1024);
      const m = re.exec(seen);
      if (m) finish(m);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => finish(new Error(`process exited (${code ?? signal}) while waiting for ${re}; output:\n${seen}`)));
  });
}

/** VmRSS of a process in KiB, or undefined once it is gone. */
export function readRssKiB(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A process's proportional set size (Pss in /proc/PID/smaps_rollup) in KiB: its private pages, and
 * its share of those it maps with others (the node binary's, among every node process here). What
 * a pool of N runners costs together is about N times this, where N times its RSS counts the shared
 * pages N times. Undefined where the kernel has no smaps_rollup (before 4.14) or the process is gone.
 */
export function readPssKiB(pid: number): number | undefined {
  try {
    const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const m = /^Pss:\s+(\d+)\s+kB/m.exec(rollup);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const TICKS_PER_SECOND = 100;

/**
 * CPU seconds (user + system) a process used itself, and that its children used once reaped
 * (the kernel adds a child's time to its parent's when the parent waits for it).
 */
export function readCpu(pid: number | 'self'): { self: number; children: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces: state is field 3.
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const field = (n: number) => f[n - 3] ?? 0;
    return { self: (field(14) + field(15)) / TICKS_PER_SECOND, children: (field(16) + field(17)) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

export function totalCpu(pid: number | 'self'): number {
  const cpu = readCpu(pid);
  return cpu ? cpu.self + cpu.children : 0;
}

/** Waits (up to `timeoutMs`) until a process has no children left, so their CPU time is in its counters. */
export async function childrenReaped(pid: number, timeoutMs = 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let children = '';
    try {
      children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    } catch {
      return;
    }
    if (!children) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface RssWindow {
  baselineKiB: number;
  peakKiB: number;
  /** Peak minus the baseline taken just before the operation, never below 0. */
  growthMiB: number;
  samples: number;
}

/**
 * Samples a process's VmRSS every `intervalMs` while `op` runs; the baseline is read right before
 * the operation starts and the last sample right after it ends, so short peaks are not missed
 * at either edge.
 */
export async function withRss<T>(pid: number, op: () => Promise<T>, intervalMs = 50): Promise<{ value: T; rss: RssWindow }> {
  const baselineKiB = readRssKiB(pid) ?? 0;
  let peakKiB = baselineKiB;
  let samples = 1;
  const sample = () => {
    const kib = readRssKiB(pid);
    samples += 1;
    if (kib !== undefined && kib > peakKiB) peakKiB = kib;
  };
  const timer = setInterval(sample, intervalMs);
  try {
    const value = await op();
    sample();
    return { value, rss: { baselineKiB, peakKiB, growthMiB: Math.max(0, peakKiB - baselineKiB) / 1024, samples } };
  } finally {
    clearInterval(timer);
  }
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The p-th percentile (nearest rank) of `values`; NaN when there are none. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
