import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runChecks, type ChecksOptions } from '../src/runner/checks.js';
import { runCommand } from '../src/runner/execute.js';
import { LogStream } from '../src/runner/log-stream.js';
import { CHECK_OUTPUT_TAIL_BYTES } from '../src/shared/environment.js';
import type { LogChunk } from '../src/shared/protocol.js';
import { Redactor } from '../src/shared/redact.js';
import { tempDir } from './helpers.js';

const SECRET = 'job-secret-value-42424242';

/** runChecks with real processes (no wall) and a log that keeps what it was sent, redacted as the job's log is. */
function harness(t: Parameters<typeof tempDir>[0], extra: Partial<ChecksOptions> = {}) {
  const chunks: LogChunk[] = [];
  const redactor = new Redactor([SECRET]);
  const log = new LogStream({ redact: redactor, send: async (chunk) => (chunks.push(chunk), { accepted: true, truncated: false }) });
  const said: string[] = [];
  const cwd = tempDir(t);
  const signal = extra.signal ?? new AbortController().signal;
  const opts: ChecksOptions = {
    run: (command, timeoutMs, output) =>
      runCommand({ command, cwd, env: { PATH: process.env.PATH, TOKEN: SECRET }, timeoutMs, output, signal, killGraceMs: 200 }),
    log,
    say: (line) => {
      said.push(line);
      log.write(`[lazyaf] ${line}\n`);
    },
    redactor,
    deadlineMs: 0,
    ...extra,
    signal,
  };
  return { opts, said, logText: async () => (await log.finish(), chunks.map((c) => c.data).join('')) };
}

test("a check's output goes to the log and its last 4 KiB to the job, a secret it prints hidden in both; the next check still runs", async (t) => {
  const { opts, said, logText } = harness(t);
  const results = await runChecks(
    [
      { name: 'loud', command: 'yes "line of noise" | head -n 400000; echo "token=$TOKEN"; exit 2' },
      { name: 'quiet', command: 'true' },
    ],
    opts,
  );
  assert.deepEqual(
    results.map((r) => [r.name, r.status]),
    [
      ['loud', 'failed'],
      ['quiet', 'passed'],
    ],
  );
  const tail = results[0]!.output_tail;
  assert.ok(Buffer.byteLength(tail) <= CHECK_OUTPUT_TAIL_BYTES, `${Buffer.byteLength(tail)} bytes`);
  assert.match(tail, /line of noise\ntoken=\[redacted\]\n$/);
  assert.equal(results[1]!.output_tail, '');
  assert.match(said.join('\n'), /check loud: failed in \d+\.\d s \(exit code 2\)/);
  assert.match(said.join('\n'), /check quiet: passed in/);
  const log = await logText();
  assert.ok(!log.includes(SECRET), 'the secret is not in the log');
  assert.match(log, /token=\[redacted\]/);
});

test('a stopped job ends the running check as an error and starts no other', async (t) => {
  const stop = new AbortController();
  const { opts } = harness(t, { signal: stop.signal });
  setTimeout(() => stop.abort(), 300);
  const started = Date.now();
  const results = await runChecks(
    [
      { name: 'long', command: 'sleep 30' },
      { name: 'next', command: 'echo ran' },
    ],
    opts,
  );
  assert.ok(Date.now() - started < 10_000);
  assert.deepEqual(
    results.map((r) => r.status),
    ['error', 'error'],
  );
  assert.match(results[1]!.output_tail, /stopped before it ran/);
});
