import assert from 'node:assert/strict';
import { test } from 'node:test';
import { outputTail, statusOf } from '../src/runner/checks.js';
import { checksMark } from '../src/shared/check-text.js';
import { CHECK_OUTPUT_TAIL_BYTES, type CheckResult } from '../src/shared/environment.js';
import { Redactor } from '../src/shared/redact.js';
import { checksVerdict } from '../src/server/queue/checks.js';

const check = (name: string, status: CheckResult['status']): CheckResult => ({ name, status, duration_ms: 5, output_tail: '' });

test("a job's outcome weighs its checks only when it requires them, and only to fail a success", () => {
  const failing = [check('lint', 'passed'), check('test', 'failed')];
  assert.deepEqual(checksVerdict({ outcome: 'succeeded', checks: failing }, false), { reason: 'succeeded' });
  assert.deepEqual(checksVerdict({ outcome: 'succeeded', checks: failing }, true), { reason: 'failed', error: 'check test failed' });
  assert.deepEqual(checksVerdict({ outcome: 'succeeded', checks: [check('lint', 'passed')] }, true), { reason: 'succeeded' });
  assert.deepEqual(checksVerdict({ outcome: 'succeeded' }, true), { reason: 'succeeded' });
  assert.deepEqual(checksVerdict({ outcome: 'succeeded', checks: [check('test', 'error')] }, true), {
    reason: 'failed',
    error: 'check test failed (it could not run to its end)',
  });
  assert.deepEqual(checksVerdict({ outcome: 'succeeded', checks: [check('a', 'failed'), check('b', 'error')] }, true), {
    reason: 'failed',
    error: 'checks a, b failed',
  });
  // The command's own failure, timeout or cancel stays what it was: its error says why.
  for (const outcome of ['failed', 'timeout', 'cancelled', 'returned'] as const) {
    assert.deepEqual(checksVerdict({ outcome, checks: failing }, true), { reason: outcome });
  }
});

test('a check passed on exit 0, failed on another code, and is an error when it did not run to its end', () => {
  const base = { exitCode: null, signal: null, timedOut: false, aborted: false };
  assert.equal(statusOf({ ...base, exitCode: 0 }), 'passed');
  assert.equal(statusOf({ ...base, exitCode: 3 }), 'failed');
  assert.equal(statusOf({ ...base, timedOut: true }), 'error');
  assert.equal(statusOf({ ...base, aborted: true, exitCode: 0 }), 'error');
  assert.equal(statusOf({ ...base, signal: 'SIGKILL' }), 'error');
  assert.equal(statusOf({ ...base, spawnError: 'ENOENT' }), 'error');
});

test("a check's output keeps its last 4 KiB, redacted even where the window cuts a secret, and never half a character", () => {
  const secret = 'sekret-value-0123456789';
  const redactor = new Redactor([secret]);
  // The secret straddles where the last 4 KiB begin: kept whole before redaction, so it is hidden.
  const kept = `${'x'.repeat(100)}${secret}${'y'.repeat(CHECK_OUTPUT_TAIL_BYTES - 10)}`;
  const tail = outputTail(kept.slice(-(CHECK_OUTPUT_TAIL_BYTES + redactor.longest)), redactor);
  assert.ok(!tail.includes('0123456789'), 'no piece of the secret');
  assert.ok(Buffer.byteLength(tail) <= CHECK_OUTPUT_TAIL_BYTES);
  assert.ok(tail.endsWith('y'.repeat(100)));
  const wide = outputTail('é'.repeat(CHECK_OUTPUT_TAIL_BYTES), new Redactor([]));
  assert.ok(!wide.includes('\ufffd'), 'cut on a character boundary');
  assert.equal(wide, 'é'.repeat(CHECK_OUTPUT_TAIL_BYTES / 2));
});

test('the checks mark says all passed in a count, else names the ones that did not', () => {
  assert.equal(checksMark(undefined), '-');
  assert.equal(checksMark([]), '-');
  assert.equal(checksMark([check('a', 'passed'), check('b', 'passed'), check('c', 'passed')]), '3/3 ✓');
  assert.equal(checksMark([check('lint', 'passed'), check('test', 'failed')]), 'test✗');
  assert.equal(checksMark([check('a', 'failed'), check('b', 'error'), check('c', 'failed'), check('d', 'passed')]), 'a✗ b✗ +1');
});
