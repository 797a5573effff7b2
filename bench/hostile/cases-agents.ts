import { MAX_TRANSCRIPT_BATCH_BYTES, RunnerRoutes } from '../../src/shared/protocol.js';
import { MAX_ENTRY_TEXT } from '../../src/shared/transcript.js';
import type { RawResponse } from '../lib/raw-http.js';
import type { Attack } from './attack.js';
import type { Tally, Target, Tier } from './target.js';
import { honest, NEVER_LABEL, type World } from './world.js';

/**
 * The surfaces agent jobs brought: stored secrets, transcript batches and their reading, the
 * usage report, a job's model and a follow-up's `fresh`. What a refused request sent carries a
 * marker; the last attack of each group reads back that none of it was stored.
 */

const JSON_TYPE = { 'content-type': 'application/json' };
const json = (value: unknown) => JSON.stringify(value);
const JOB_TIERS = ['none', 'wrong', 'registration', 'runner', 'job-dead', 'job-cancelled', 'job-other', 'job'] as const;
/** In every entry and secret a request that must be refused sends. */
const REFUSED = 'refused-must-not-be-stored';
/** The value the bench stores as a secret: it must never reach the server's log. */
export const STORED_SECRET_VALUE = 'bench-stored-secret-value-0123456789';
const SECRET_NAME = 'BENCH_HOSTILE_SECRET';

const noMarker = (what: string) => (res: RawResponse, tier: Tier) =>
  tier === 'admin' && res.body.toString().includes(REFUSED) ? `${what} holds what a refused request sent` : undefined;

/** Secrets: who may set, list and delete them, and names, values and scopes that must be refused. */
export function secretAttacks(w: World): Attack[] {
  const g = 'secrets';
  const put = (name: string, path: string, body: unknown, extra: Partial<Attack> = {}): Attack => ({
    group: g,
    name,
    method: 'PUT',
    path,
    headers: JSON_TYPE,
    body: typeof body === 'string' ? body : json(body),
    allowed: ['admin'],
    hostile: true,
    tiers: ['none', 'job', 'admin'],
    ...extra,
  });
  const names = [
    '..',
    '%2e%2e',
    '..%2f..%2fetc%2fpasswd',
    '__proto__',
    'constructor',
    'lowercase',
    'MIXED_case',
    '%C3%84BC',
    'A%20B',
    'A%00',
    '1ABC',
    'A-B',
    'A'.repeat(129),
    'X'.repeat(10_000),
  ];
  const value = { value: REFUSED };
  const scopes = [
    ['a repo that does not exist', 'repo=no-such-repo'],
    ['a deleted repo', `repo=${w.spareRepoId}`],
    ['an empty repo', 'repo='],
    ['a repo of 201 characters', `repo=${'r'.repeat(201)}`],
    ['repo __proto__', 'repo=__proto__'],
    ['two repos', `repo=${w.repo.id}&repo=${w.other.id}`],
    ['an unknown query field', 'scope=all'],
  ];
  const path = `/api/secrets/${SECRET_NAME}`;
  return [
    { group: g, name: 'list', method: 'GET', path: '/api/secrets', allowed: ['admin'] },
    put('set one', path, { value: STORED_SECRET_VALUE }, { hostile: false, tiers: undefined }),
    put('set one for a repo', `${path}?repo=${w.repo.name}`, { value: STORED_SECRET_VALUE }, { hostile: false, tiers: undefined }),
    ...names.map((n) => put(`name ${n.length > 40 ? `${n.slice(0, 10)}… (${n.length} chars)` : n}`, `/api/secrets/${n}`, value)),
    put('value empty', path, { value: '' }),
    put('value with a NUL', path, { value: `${REFUSED}\u0000x` }),
    put('value a number', path, { value: 12345678 }),
    put('value an object', path, { value: { toString: REFUSED } }),
    put('value null', path, { value: null }),
    put('no value', path, {}),
    put('value and an unknown field', path, { value: REFUSED, extra: 1 }),
    put('value of 64 Ki + 1 characters', path, { value: REFUSED + 'v'.repeat(64 * 1024 + 1 - REFUSED.length) }),
    put('value of 10 MiB', path, { value: REFUSED + 'v'.repeat(10 * 1024 * 1024) }, { tiers: ['none', 'admin'], timeoutMs: 20_000 }),
    ...scopes.map(([name, q]) => put(`scope: ${name}`, `${path}?${q}`, value)),
    ...scopes.map(([name, q]): Attack => ({
      group: g,
      name: `delete, scope: ${name}`,
      method: 'DELETE',
      path: `${path}?${q}`,
      allowed: ['admin'],
      hostile: true,
    })),
    { group: g, name: 'delete one that does not exist', method: 'DELETE', path: '/api/secrets/BENCH_NEVER_SET', allowed: ['admin'], hostile: true },
    { group: g, name: 'the list after the attacks', method: 'GET', path: '/api/secrets', allowed: ['admin'], tiers: ['admin'], check: secretListCheck },
    { group: g, name: 'delete one for a repo', method: 'DELETE', path: `${path}?repo=${w.repo.id}`, allowed: ['admin'], tiers: ['none', 'job', 'admin'] },
    { group: g, name: 'delete one', method: 'DELETE', path, allowed: ['admin'], tiers: ['none', 'job', 'admin'] },
  ];
}

/** The list shows names only, and only those the bench set: a refused name, or a value, is a leak. */
function secretListCheck(res: RawResponse): string | undefined {
  const body = res.body.toString();
  if (body.includes(STORED_SECRET_VALUE)) return 'the list shows a value';
  let names: string[];
  try {
    names = (JSON.parse(body) as { secrets: { name: string }[] }).secrets.map((s) => s.name);
  } catch {
    return `the list is not one: ${res.status}`;
  }
  const odd = names.filter((n) => n !== SECRET_NAME);
  return odd.length > 0 ? `the list holds names no request may set: ${odd.join(', ').slice(0, 200)}` : undefined;
}

/**
 * Several admins setting and deleting one secret at once: every answer a 2xx or a 404, and in the
 * end one row or none (the table's unique index), never two.
 */
export async function secretsRace(target: Target, tally: Tally): Promise<string[]> {
  const path = '/api/secrets/BENCH_RACE';
  const requests = Array.from({ length: 40 }, (_, i) =>
    i % 2
      ? honest(target, tally, 'admin', 'set a secret (race)', 'PUT', path, target.adminToken, { value: `race-value-${i}-${'x'.repeat(20)}` })
      : honest(target, tally, 'admin', 'delete a secret (race)', 'DELETE', path, target.adminToken),
  );
  const problems: string[] = [];
  for (const r of await Promise.all(requests)) if (![200, 201, 204, 404].includes(r.status)) problems.push(`secrets race: an answer ${r.status}`);
  const list = await honest<{ secrets: { name: string }[] }>(target, tally, 'admin', 'list secrets (race)', 'GET', '/api/secrets', target.adminToken);
  const rows = list.body.secrets.filter((s) => s.name === 'BENCH_RACE').length;
  if (rows > 1) problems.push(`secrets race: ${rows} rows of one name and scope`);
  await honest(target, tally, 'admin', 'delete a secret (race, end)', 'DELETE', path, target.adminToken);
  return problems;
}

/** An entry with every field at the most the schema takes. */
function fullEntry(): Record<string, unknown> {
  const long = 't'.repeat(MAX_ENTRY_TEXT + 100);
  return {
    type: 'tool',
    role: 'assistant',
    text: long,
    tool: 'T'.repeat(200),
    kind: 'command',
    path: 'p'.repeat(4096),
    status: 'ok',
    exit_code: 2 ** 31 - 1,
    command: long,
    input: long,
    output: long,
    diff: long,
    at: '2026-01-01T00:00:00.000Z'.padEnd(40, '0'),
  };
}

/**
 * Transcript batches of the `job` tier's attempt, in order (valid batches take the next seq), then
 * the attempts that ended, then what was stored. Runs before the runner-protocol group ends the attempt.
 */
export function transcriptAttacks(w: World): Attack[] {
  const route = RunnerRoutes.transcript(w.attempt.attempt_id);
  let seq = 0;
  const entry = (text = 'ok') => ({ type: 'message', role: 'assistant', text });
  const batch = (name: string, body: () => unknown, hostile = true, extra: Partial<Attack> = {}): Attack => ({
    group: 'transcript: batch',
    name,
    method: 'POST',
    path: route,
    headers: JSON_TYPE,
    body: () => {
      const b = body();
      return typeof b === 'string' ? b : json(b);
    },
    allowed: ['job'],
    hostile,
    tiers: JOB_TIERS,
    ...extra,
  });
  const bad = (name: string, entries: unknown) => batch(name, () => ({ seq: ++seq, entries }));
  const refusedEntry = entry(REFUSED);
  const maxBatch = Math.floor((MAX_TRANSCRIPT_BATCH_BYTES - 1024) / json(fullEntry()).length);
  return [
    batch('a batch', () => ({ seq: ++seq, entries: [entry()] }), false),
    // A seq the validator coerces (true and [1] are 1) is one seen before: acknowledged and ignored, a refusal too.
    ...[0, -1, 1.5, '1x', null, true, [1], { n: 1 }].map((s) =>
      batch(`seq ${json(s) ?? String(s)}`, () => ({ seq: s, entries: [refusedEntry] }), true, {
        refusal: (res) => res.body.toString().includes('"accepted":false'),
      }),
    ),
    batch('the same seq, other content', () => ({ seq, entries: [entry(REFUSED)] }), false, {
      check: (res, tier) => (tier === 'job' && !res.body.toString().includes('"accepted":false') ? 'a batch number seen before was taken again' : undefined),
    }),
    bad('no entries', []),
    bad(
      '201 entries',
      Array.from({ length: 201 }, () => refusedEntry),
    ),
    bad('an unknown type', [{ type: 'shell', text: REFUSED }]),
    bad('an unknown field', [{ ...refusedEntry, extra: 1 }]),
    bad('kind __proto__', [{ type: 'tool', kind: '__proto__', text: REFUSED }]),
    bad('role system', [{ type: 'message', role: 'system', text: REFUSED }]),
    bad('exit_code 1.5', [{ type: 'tool', exit_code: 1.5, text: REFUSED }]),
    bad('text one past its most', [entry(REFUSED + 'x'.repeat(MAX_ENTRY_TEXT + 101 - REFUSED.length))]),
    bad('at of 41 characters', [{ ...refusedEntry, at: 'a'.repeat(41) }]),
    bad('tool of 201 characters', [{ type: 'tool', tool: 'T'.repeat(201), text: REFUSED }]),
    bad('an entry that is a string', [REFUSED]),
    bad('an entry null', [null, refusedEntry]),
    bad('__proto__ in an entry', [JSON.parse(`{"type":"message","text":"${REFUSED}","__proto__":{"type":"error"}}`)]),
    batch('entries 100,000 deep', () => `{"seq":${++seq},"entries":${'['.repeat(100_000)}${']'.repeat(100_000)}}`),
    batch('an entry with every field at its most', () => ({ seq: ++seq, entries: [fullEntry()] }), false),
    batch(`${maxBatch} such entries (just under the body limit)`, () => ({ seq: ++seq, entries: Array.from({ length: maxBatch }, fullEntry) }), false, {
      tiers: ['none', 'job'],
      timeoutMs: 30_000,
    }),
    batch('a body past the limit', () => ({ seq: ++seq, entries: Array.from({ length: maxBatch + 2 }, () => ({ ...fullEntry(), tool: REFUSED })) }), true, {
      tiers: ['none', 'job'],
      timeoutMs: 30_000,
    }),
    // The largest seq the schema takes: the attempt's own runner ends its transcript with it (later batches are seen before).
    batch('seq 1.8e308 (last: no batch is taken after it)', () => ({ seq: Number.MAX_VALUE, entries: [entry()] }), false),
    ...(
      [
        ['a batch after its attempt completed', w.deadAttempt, 'job-dead'],
        ['a batch after its job was cancelled', w.cancelledAttempt, 'job-cancelled'],
      ] as const
    ).map(([name, a, own]): Attack => ({
      group: 'transcript: ended attempts',
      name,
      method: 'POST',
      path: RunnerRoutes.transcript(a.attempt_id),
      headers: JSON_TYPE,
      body: json({ seq: 1, entries: [refusedEntry] }),
      allowed: [],
      tiers: [own, 'job'],
    })),
    ...[w.attempt, w.deadAttempt, w.cancelledAttempt].map((a): Attack => ({
      group: 'transcript: stored',
      name: `what was stored (${a === w.attempt ? 'the live attempt' : 'an ended one'})`,
      method: 'GET',
      path: `/api/jobs/${a.job_id}/transcript`,
      allowed: ['admin'],
      tiers: ['job', 'admin'],
      check: noMarker('the transcript'),
    })),
  ];
}

/** Reading a transcript and the usage report with queries out of range. */
export function agentQueries(w: World): Attack[] {
  const q = (group: string, path: string, query: string, hostile = true): Attack => ({
    group,
    name: query.length > 60 ? `${query.slice(0, 30)}… (${query.length} chars)` : query,
    method: 'GET',
    path: `${path}?${query}`,
    allowed: ['admin'],
    hostile,
    tiers: ['none', 'job', 'admin'],
  });
  const transcript = `/api/jobs/${w.attempt.job_id}/transcript`;
  return [
    ...[
      'attempt=0',
      'attempt=-1',
      'attempt=1.5',
      'attempt=1e309',
      `attempt=${'9'.repeat(400)}`,
      'attempt=abc',
      'attempt=1&attempt=2',
      'attempt=',
      'after=-1',
      'after=1e309',
      'after=abc',
      'constructor=1',
      '__proto__[x]=1',
    ].map((x) => q('query: a transcript', transcript, x)),
    // 0x10 is 16 to the validator, as to Number().
    ...['attempt=1', 'after=0', 'after=0x10', 'after=9007199254740991', 'attempt=1&after=1e300', 'attempt=99999999'].map((x) =>
      q('query: a transcript', transcript, x, false),
    ),
    ...[
      'since=2026-13-45',
      'since=2026-00-00',
      'since=0000-99-99',
      'since=2026-1-1',
      'since=x',
      'since=',
      'since=2026-01-01T00:00:00Z',
      'since=2026-01-01&since=2026-01-02',
      `repo=${'r'.repeat(201)}`,
      'repo=',
      'repo=__proto__',
      'repo=..%2f..%2fetc',
      'repo=%00',
      'group=day',
    ].map((x) => q('query: usage', '/api/usage', x)),
    ...['since=2026-01-01', `repo=${w.repo.name}`, `repo=${w.repo.id}&since=1970-01-01`].map((x) => q('query: usage', '/api/usage', x, false)),
  ];
}

/** A job's model (it reaches an agent's argv) and a follow-up's `fresh`: only what MODEL_RE and a boolean take. */
export function agentValues(w: World): Attack[] {
  const send = (group: string, path: string, name: string, fields: Record<string, unknown>): Attack => ({
    group,
    name,
    method: 'POST',
    path,
    headers: JSON_TYPE,
    body: json({ title: 'hostile', labels: [NEVER_LABEL], ...fields }),
    allowed: ['admin'],
    hostile: true,
    tiers: ['none', 'job', 'admin'],
  });
  const models = ['-x', '--dangerously-skip-permissions', '--model=x', 'a b', 'a\nb', 'a\n', ' a', 'a;id', '$(id)', 'a\u0000b', 'é', '', 'm'.repeat(201)];
  return [
    ...models.map((m) =>
      send('value: a job’s model', '/api/jobs', `model ${JSON.stringify(m.length > 40 ? `${m.slice(0, 10)}…` : m)}`, {
        repo_id: w.repo.id,
        agent: 'claude',
        model: m,
      }),
    ),
    send('value: a job’s model', '/api/jobs', 'a model for a shell job', { repo_id: w.repo.id, command: 'true', model: 'claude-sonnet-4-5' }),
    ...models
      .slice(0, 4)
      .map((m) => send('value: a follow-up’s model', `/api/jobs/${w.parkedJobId}/followup`, `model ${JSON.stringify(m)}`, { agent: 'claude', model: m })),
    ...['yes', 2, {}, [true, false]].map((f) =>
      send('value: a follow-up’s fresh', `/api/jobs/${w.parkedJobId}/followup`, `fresh ${JSON.stringify(f)}`, { agent: 'claude', fresh: f }),
    ),
  ];
}
