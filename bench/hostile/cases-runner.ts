import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { RunnerRoutes } from '../../src/shared/protocol.js';
import type { Attack } from './attack.js';
import { emptyPack, gitSaysError, pktLine, refUpdate, ZERO_SHA } from './git-wire.js';
import { NOT_ADMIN, type Tier } from './target.js';
import type { World } from './world.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const UPLOAD = { 'content-type': 'application/x-git-upload-pack-request' };
const RECEIVE = { 'content-type': 'application/x-git-receive-pack-request' };
const json = (value: unknown) => JSON.stringify(value);
const JOB_TIERS = ['none', 'wrong', 'runner', 'job-dead', 'job-cancelled', 'job-other', 'job'] as const;

/** Odd but well-formed runner-protocol messages, in an order that matters: the attempt ends last. */
export function protocolOddities(w: World): Attack[] {
  const logs = RunnerRoutes.logs(w.attempt.attempt_id);
  const complete = RunnerRoutes.complete(w.attempt.attempt_id);
  const chunk = (name: string, body: () => unknown, hostile = false): Attack => ({
    group: 'protocol: log chunk',
    name,
    method: 'POST',
    path: logs,
    headers: JSON_TYPE,
    body: () => json(body()),
    allowed: ['job'],
    hostile,
    tiers: JOB_TIERS,
  });
  const report = (name: string, body: unknown, hostile = true): Attack => ({
    group: 'protocol: complete',
    name,
    method: 'POST',
    path: complete,
    headers: JSON_TYPE,
    body: json(body),
    allowed: ['job'],
    hostile,
    tiers: JOB_TIERS,
  });
  const randomSha = crypto.randomBytes(20).toString('hex');
  return [
    chunk('seq 0', () => ({ seq: 0, data: 'x' }), true),
    chunk('seq -1', () => ({ seq: -1, data: 'x' }), true),
    chunk('seq 1.5', () => ({ seq: 1.5, data: 'x' }), true),
    chunk('seq null', () => ({ seq: null, data: 'x' }), true),
    chunk('data of 512 KiB + 1', () => ({ seq: w.nextSeq(), data: 'x'.repeat(512 * 1024 + 1) }), true),
    chunk('an empty chunk', () => ({ seq: w.nextSeq(), data: '' })),
    chunk('a normal chunk after an empty one', () => ({ seq: w.nextSeq(), data: 'after the empty one\n' })),
    chunk('the same seq again', () => ({ seq: w.lastSeq(), data: 'resent\n' })),
    chunk('a lone surrogate, NUL and escapes', () => ({ seq: w.nextSeq(), data: '\ud800 \u0000 \u001b[2J\u001b]0;title\u0007\n' })),
    chunk('data of exactly 512 KiB (past the log cap)', () => ({ seq: w.nextSeq(), data: 'y'.repeat(512 * 1024) })),
    chunk('a chunk after the cap', () => ({ seq: w.nextSeq(), data: 'more\n' })),
    report('commit that is on no branch', { outcome: 'succeeded', exit_code: 0, commit: randomSha }),
    report("commit of main, not of the job's branch", { outcome: 'succeeded', exit_code: 0, commit: w.repo.main }),
    report('commit of another repo', { outcome: 'succeeded', exit_code: 0, commit: w.other.main }),
    report('commit in upper case', { outcome: 'succeeded', exit_code: 0, commit: randomSha.toUpperCase() }),
    report('outcome "lost"', { outcome: 'lost' }),
    report('exit_code 1.5', { outcome: 'failed', exit_code: 1.5 }),
    report('error of 4,001 characters', { outcome: 'failed', error: 'e'.repeat(4001) }),
    {
      group: 'protocol: heartbeat',
      name: "another runner's attempt",
      method: 'POST',
      path: RunnerRoutes.heartbeat,
      headers: JSON_TYPE,
      body: json({ status: 'busy', attempts: [w.attempt.attempt_id] }),
      allowed: ['runner'],
      tiers: ['none', 'job', 'runner'],
      // The attempt is not this runner's: it must be reported lost to it, and not renewed.
      check: (res, tier) => (tier === 'runner' && !res.body.toString().includes(w.attempt.attempt_id) ? 'a foreign attempt was not reported lost' : undefined),
    },
    chunk('seq 2^53 - 1', () => ({ seq: Number.MAX_SAFE_INTEGER, data: 'last\n' })),
    report('succeeded, no commit (ends the attempt)', { outcome: 'succeeded', exit_code: 0, commit: null }, false),
    report('the same report again', { outcome: 'succeeded', exit_code: 0, commit: null }, false),
    report('another outcome after the end', { outcome: 'failed', exit_code: 1 }),
    chunk('a chunk after the end', () => ({ seq: Number.MAX_SAFE_INTEGER, data: 'late\n' }), true),
  ];
}

/** The git endpoints: who may fetch and push what, and bodies git must refuse. */
export function gitAttacks(w: World, gzipBomb: Buffer): Attack[] {
  const base = `/git/${w.repo.id}.git`;
  const other = `/git/${w.other.id}.git`;
  const readers = (mine: readonly Tier[], b: string, repo: string): Attack[] => [
    { group: `git: ${repo}`, name: 'refs for fetch', method: 'GET', path: `${b}/info/refs?service=git-upload-pack`, allowed: mine },
    { group: `git: ${repo}`, name: 'refs for push', method: 'GET', path: `${b}/info/refs?service=git-receive-pack`, allowed: mine },
    { group: `git: ${repo}`, name: 'HEAD', method: 'GET', path: `${b}/HEAD`, allowed: mine },
    { group: `git: ${repo}`, name: 'fetch probe (a flush)', method: 'POST', path: `${b}/git-upload-pack`, headers: UPLOAD, body: '0000', allowed: mine },
  ];
  const want = (sha: string) => pktLine(`want ${sha}\n`) + '0000' + pktLine('done\n');
  const fetch = (name: string, body: Buffer | string, extra: Partial<Attack> = {}): Attack => ({
    group: 'git: fetch',
    name,
    method: 'POST',
    path: `${base}/git-upload-pack`,
    headers: UPLOAD,
    body,
    allowed: ['admin', 'job'],
    hostile: true,
    refusal: (res) => gitSaysError(res.body),
    ...extra,
  });
  const refs = { repo: w.repo.path, jobRef: `refs/heads/${w.attempt.branch}` };
  const push = (name: string, body: () => Buffer | string, allowed: readonly Tier[], extra: Partial<Attack> = {}): Attack => ({
    group: 'git: push',
    name,
    method: 'POST',
    path: `${base}/git-receive-pack`,
    headers: RECEIVE,
    body,
    allowed,
    refs,
    ...extra,
  });
  const { main, parent } = w.repo;
  return [
    ...readers(['admin', 'job'], base, 'its repo'),
    ...readers(['admin', 'job-other'], other, 'another repo'),
    { group: 'git: fetch', name: 'want main', method: 'POST', path: `${base}/git-upload-pack`, headers: UPLOAD, body: want(main), allowed: ['admin', 'job'] },
    fetch('want a commit of another repo', want(w.other.main)),
    fetch('garbage pkt-lines', 'zzzzhello'),
    fetch('not gzip', 'this is not gzip', { headers: { ...UPLOAD, 'content-encoding': 'gzip' } }),
    fetch('truncated gzip', zlib.gzipSync(want(main)).subarray(0, 12), { headers: { ...UPLOAD, 'content-encoding': 'gzip' } }),
    fetch('a JSON content type', '0000', { headers: JSON_TYPE }),
    {
      ...fetch('gzip of 100 MB of flush packets', gzipBomb, { headers: { ...UPLOAD, 'content-encoding': 'gzip' } }),
      hostile: false,
      tiers: ['none', 'job', 'admin'],
      timeoutMs: 30_000,
    },
    ...['version=2;touch /tmp/x', 'version=2 x', `version=${'2'.repeat(300)}`].map((v): Attack => ({
      group: 'git: Git-Protocol header',
      name: JSON.stringify(v.slice(0, 30)),
      method: 'GET',
      path: `${base}/info/refs?service=git-upload-pack`,
      headers: { 'git-protocol': v },
      allowed: ['admin', 'job'],
      hostile: true,
    })),
    {
      group: 'git: Git-Protocol header',
      name: 'two headers',
      method: 'GET',
      path: `${base}/info/refs?service=git-upload-pack`,
      headers: { 'git-protocol': ['version=2', 'version=1'] },
      allowed: ['admin', 'job'],
      hostile: true,
    },
    { group: 'git: fetch', name: 'dumb protocol (no service)', method: 'GET', path: `${base}/info/refs`, allowed: ['admin', 'job'], hostile: true },
    push('create its own job branch', () => refUpdate(ZERO_SHA, main, refs.jobRef), ['admin', 'job']),
    push('create a new branch', () => refUpdate(ZERO_SHA, main, `refs/heads/${w.unique('pushed')}`), ['admin']),
    push('create a tag', () => refUpdate(ZERO_SHA, main, `refs/tags/${w.unique('tag')}`), ['admin']),
    push("create another job's branch", () => refUpdate(ZERO_SHA, main, `refs/heads/${w.deadAttempt.branch}`), ['admin']),
    push('move main back to its parent', () => refUpdate(main, parent, 'refs/heads/main'), ['admin'], { tiers: NOT_ADMIN }),
    push('delete main', () => refUpdate(main, ZERO_SHA, 'refs/heads/main'), ['admin'], { tiers: NOT_ADMIN }),
    push(
      'its own branch and main in one push',
      () =>
        Buffer.concat([
          Buffer.from(pktLine(`${ZERO_SHA} ${main} ${refs.jobRef}\0report-status\n`) + pktLine(`${main} ${parent} refs/heads/main\n`) + '0000'),
          emptyPack(),
        ]),
      ['admin', 'job'],
      { tiers: NOT_ADMIN },
    ),
    push('ref refs/heads/../config', () => refUpdate(ZERO_SHA, main, 'refs/heads/../config'), ['admin', 'job'], { hostile: true }),
    push('ref HEAD', () => refUpdate(ZERO_SHA, main, 'HEAD'), ['admin', 'job'], { hostile: true }),
    push(
      'a corrupt pack',
      () => refUpdate(ZERO_SHA, main, refs.jobRef, Buffer.from('PACK\x00\x00\x00\x02\x00\x00\x00\x05garbage', 'latin1')),
      ['admin', 'job'],
      { hostile: true },
    ),
    push('garbage pkt-lines', () => 'zzzzhello', ['admin', 'job'], { hostile: true }),
    push('not gzip', () => 'this is not gzip', ['admin', 'job'], { hostile: true, headers: { ...RECEIVE, 'content-encoding': 'gzip' } }),
    {
      group: 'git: push',
      name: 'into another repo',
      method: 'POST',
      path: `${other}/git-receive-pack`,
      headers: RECEIVE,
      body: () => refUpdate(ZERO_SHA, w.other.main, `refs/heads/${w.unique('cross')}`),
      allowed: ['admin', 'job-other'],
      refs: { repo: w.other.path, jobRef: `refs/heads/${w.otherAttempt.branch}` },
    },
  ];
}

/**
 * After its job was cancelled and its runner reported the cancel, an attempt whose runner keeps
 * heartbeating: its token must be dead, for logs, fetches and pushes alike.
 */
export function cancelledAttempt(w: World): Attack[] {
  const a = w.cancelledAttempt;
  const base = `/git/${w.repo.id}.git`;
  const only = { allowed: [] as const, tiers: ['job-cancelled'] as const };
  return [
    {
      group: 'cancelled job',
      name: 'a log chunk',
      method: 'POST',
      path: RunnerRoutes.logs(a.attempt_id),
      headers: JSON_TYPE,
      body: () => json({ seq: w.nextSeq(), data: 'still here\n' }),
      ...only,
    },
    { group: 'cancelled job', name: 'refs for fetch', method: 'GET', path: `${base}/info/refs?service=git-upload-pack`, ...only },
    {
      group: 'cancelled job',
      name: 'push its own branch',
      method: 'POST',
      path: `${base}/git-receive-pack`,
      headers: RECEIVE,
      body: () => refUpdate(ZERO_SHA, w.repo.main, `refs/heads/${a.branch}`),
      refs: { repo: w.repo.path, jobRef: `refs/heads/${w.attempt.branch}` },
      ...only,
    },
  ];
}
