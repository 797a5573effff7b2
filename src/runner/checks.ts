import { Writable } from 'node:stream';
import { CHECK_OUTPUT_TAIL_BYTES, type CheckResult, type CheckStatus } from '../shared/environment.js';
import type { Redactor } from '../shared/redact.js';
import type { CommandResult } from './execute.js';

/** A check as the assignment names it. */
export interface CheckSpec {
  name: string;
  command: string;
}

export interface ChecksOptions {
  /** Runs one check's `sh -c` command in the job's wall; its output goes to `output`. */
  run: (command: string, timeoutMs: number, output: Writable) => Promise<CommandResult>;
  /** The job's log, where each check's output goes as it comes. */
  log: Writable;
  /** Writes a `[lazyaf]` line to the job's log. */
  say: (line: string) => void;
  /** The job's secrets: hidden from the tail kept on the job (the log hides them itself). */
  redactor: Redactor;
  /** When the job's time runs out (ms since the epoch); 0: the job has no time limit. */
  deadlineMs: number;
  /** Aborted when the job is stopped: the running check ends as `error` and no further one starts. */
  signal: AbortSignal;
  now?: () => number;
}

/**
 * Runs the repo's checks one after the other, each in its own log section, and returns what each
 * did. A check that fails does not stop the next: a person wants to know about all of them. Each
 * is bounded by the time the job has left, so checks cannot make a job outlive its timeout.
 */
export async function runChecks(checks: readonly CheckSpec[], opts: ChecksOptions): Promise<CheckResult[]> {
  const now = opts.now ?? Date.now;
  const results: CheckResult[] = [];
  for (const check of checks) {
    const started = now();
    const left = opts.deadlineMs > 0 ? opts.deadlineMs - started : 0;
    if (opts.signal.aborted || (opts.deadlineMs > 0 && left <= 0)) {
      const why = opts.signal.aborted ? 'the job was stopped before it ran' : "the job's time ran out before it ran";
      opts.say(`check ${check.name}: error: ${why}`);
      results.push({ name: check.name, status: 'error', duration_ms: 0, output_tail: why });
      continue;
    }
    opts.say(`check ${check.name}: ${check.command}`);
    const output = new TailingOutput(opts.log, CHECK_OUTPUT_TAIL_BYTES + opts.redactor.longest);
    const result = await opts.run(check.command, left, output);
    const duration = Math.max(0, now() - started);
    const status = statusOf(result);
    const why = result.spawnError
      ? `could not start: ${result.spawnError}`
      : result.timedOut
        ? "the job's time ran out"
        : result.aborted
          ? 'the job was stopped'
          : result.exitCode === 0
            ? undefined
            : result.exitCode === null
              ? `killed by ${result.signal ?? 'a signal'}`
              : `exit code ${result.exitCode}`;
    opts.say(`check ${check.name}: ${status} in ${seconds(duration)}${why ? ` (${why})` : ''}`);
    results.push({ name: check.name, status, duration_ms: duration, output_tail: outputTail(output.text, opts.redactor) });
  }
  return results;
}

/** passed: exit 0; failed: another exit code; error: it did not run to its end (timeout, stop, could not start, killed). */
export function statusOf(result: CommandResult): CheckStatus {
  if (result.spawnError || result.timedOut || result.aborted || result.exitCode === null) return 'error';
  return result.exitCode === 0 ? 'passed' : 'failed';
}

/**
 * The last CHECK_OUTPUT_TAIL_BYTES of a check's output, redacted. `kept` holds the longest secret
 * more than that, so a secret cut by the window's start is still whole when redaction runs; the
 * cut comes after it, on a character's boundary.
 */
export function outputTail(kept: string, redactor: Redactor, maxBytes = CHECK_OUTPUT_TAIL_BYTES): string {
  const bytes = Buffer.from(redactor.redact(kept), 'utf8');
  if (bytes.length <= maxBytes) return bytes.toString('utf8');
  let start = bytes.length - maxBytes;
  // Not inside a character: skip its continuation bytes (10xxxxxx).
  while (start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start++;
  return bytes.subarray(start).toString('utf8');
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** Passes a check's output on to the job's log (with its backpressure) and keeps its last `keep` characters. */
class TailingOutput extends Writable {
  text = '';

  constructor(
    private readonly log: Writable,
    private readonly keep: number,
  ) {
    super({ decodeStrings: false });
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const piece = typeof chunk === 'string' ? chunk : String(chunk);
    this.text = (this.text + piece).slice(-this.keep);
    if (!this.log.writable) return callback();
    this.log.write(piece, () => callback());
  }
}
