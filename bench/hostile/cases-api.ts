import zlib from 'node:zlib';
import { PROTOCOL_VERSION, RunnerRoutes } from '../../src/shared/protocol.js';
import type { Attack } from './attack.js';
import { NOT_ADMIN, TIERS, type Tier } from './target.js';
import { NEVER_LABEL, type World } from './world.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const json = (value: unknown) => JSON.stringify(value);

/** Valid requests from every tier: only the tiers the contract names may succeed. */
export function authorizationMatrix(w: World): Attack[] {
  const g = 'authorization';
  const admin = ['admin'] as const;
  const repo = w.repo.id;
  const job = w.attempt.job_id;
  const get = (name: string, path: string): Attack => ({ group: g, name, method: 'GET', path, allowed: admin });
  const post = (name: string, method: string, path: string, allowed: readonly Tier[], body?: Attack['body']): Attack => ({
    group: g,
    name,
    method,
    path,
    headers: body === undefined ? {} : JSON_TYPE,
    body,
    allowed,
  });
  return [
    get('list repos', '/api/repos'),
    get('show a repo', `/api/repos/${repo}`),
    get('a repo by name, branches', `/api/repos/${w.repo.name}/branches`),
    get('clone url', `/api/repos/${repo}/clone-url`),
    get('list jobs', '/api/jobs'),
    get('show a job', `/api/jobs/${job}`),
    get('a job log', `/api/jobs/${job}/logs`),
    get('a job diff', `/api/jobs/${job}/diff`),
    get('a job transcript', `/api/jobs/${job}/transcript`),
    get('usage', '/api/usage'),
    get('list secrets', '/api/secrets'),
    get('list webhooks', '/api/webhooks'),
    get('webhook deliveries', '/api/webhooks/deliveries'),
    get('list runners', '/api/runners'),
    get('runner counts', '/api/runners/status'),
    get('pool', '/api/pool'),
    { group: g, name: 'event stream', method: 'GET', path: '/api/events', allowed: admin, tiers: NOT_ADMIN },
    { group: g, name: 'follow a log', method: 'GET', path: `/api/jobs/${job}/logs?follow=true`, allowed: admin, tiers: NOT_ADMIN },
    post('create a repo', 'POST', '/api/repos', admin, () => json({ name: w.unique('made') })),
    post('ingest a repo', 'POST', '/api/repos/ingest', admin, () => json({ name: w.unique('ingested') })),
    post('change a repo', 'PATCH', `/api/repos/${repo}`, admin, json({ default_branch: 'main' })),
    post('land (no remote: 409)', 'POST', `/api/repos/${repo}/land`, admin, json({ branch: 'main' })),
    post('submit a job', 'POST', '/api/jobs', admin, () => json({ repo_id: repo, title: w.unique('job'), command: 'true', labels: [NEVER_LABEL] })),
    post('cancel a job', 'POST', `/api/jobs/${w.parkedJobId}/cancel`, admin),
    post('retry a job', 'POST', `/api/jobs/${w.parkedJobId}/retry`, admin),
    // The parked job is queued: admin gets a 409, everyone else must not get past the token.
    post('rerun a job (queued: 409)', 'POST', `/api/jobs/${w.parkedJobId}/rerun`, admin),
    post(
      'follow up a job (queued: 409)',
      'POST',
      `/api/jobs/${w.parkedJobId}/followup`,
      admin,
      json({ title: 'next', command: 'true', labels: [NEVER_LABEL] }),
    ),
    post('scale the pool to 0', 'PUT', '/api/pool', admin, json({ desired: 0 })),
    // Port 9 (discard) on the loopback: its deliveries are refused and retried, reaching no one.
    post(
      'add a webhook',
      'POST',
      '/api/webhooks',
      admin,
      json({ url: 'http://127.0.0.1:9/hook', events: ['job.finished'], secret: 'bench-secret-0123456789' }),
    ),
    post('delete a webhook (none: 404)', 'DELETE', '/api/webhooks/bench-no-such-webhook', admin),
    post('a sign-in link', 'POST', '/api/session/links', admin),
    // The session routes are public: a sign-in with a wrong token succeeds for no one, a sign-out without a session for everyone.
    post('sign in with a wrong token', 'POST', '/api/session', [], json({ token: 'lzadm_not_the_admin_token' })),
    post('sign out (no session)', 'DELETE', '/api/session', TIERS),
    { group: g, name: 'session state (public)', method: 'GET', path: '/api/session', allowed: TIERS },
    post('revoke a runner', 'DELETE', `/api/runners/${w.spareRunnerId}`, admin),
    post('delete a repo', 'DELETE', `/api/repos/${w.spareRepoId}`, admin),
    post('register a runner', 'POST', RunnerRoutes.register, ['registration'], () => json({ name: w.unique('joined'), protocol_version: PROTOCOL_VERSION })),
    post('heartbeat', 'POST', RunnerRoutes.heartbeat, ['runner'], json({ status: 'idle', attempts: [] })),
    post('poll', 'POST', RunnerRoutes.poll, ['runner'], json({ wait_ms: 0 })),
    post('append a log chunk', 'POST', RunnerRoutes.logs(w.attempt.attempt_id), ['job'], () => json({ seq: w.nextSeq(), data: 'ok\n' })),
    { group: g, name: 'health (public)', method: 'GET', path: '/api/health', allowed: TIERS },
  ];
}

interface BodyRoute {
  name: string;
  method: string;
  path: string;
  /** The tier the route is for. */
  owner: Tier;
  /** Who may send it a body: the owner unless the route is public. */
  allowed?: readonly Tier[];
  tiers?: readonly Tier[];
}

function bodyRoutes(w: World): BodyRoute[] {
  return [
    { name: 'create a repo', method: 'POST', path: '/api/repos', owner: 'admin' },
    { name: 'change a repo', method: 'PATCH', path: `/api/repos/${w.repo.id}`, owner: 'admin' },
    { name: 'submit a job', method: 'POST', path: '/api/jobs', owner: 'admin' },
    { name: 'follow up a job', method: 'POST', path: `/api/jobs/${w.parkedJobId}/followup`, owner: 'admin' },
    { name: 'scale the pool', method: 'PUT', path: '/api/pool', owner: 'admin' },
    { name: 'land', method: 'POST', path: `/api/repos/${w.repo.id}/land`, owner: 'admin' },
    { name: 'sign in', method: 'POST', path: '/api/session', owner: 'none', allowed: TIERS },
    { name: 'register', method: 'POST', path: RunnerRoutes.register, owner: 'registration' },
    { name: 'heartbeat', method: 'POST', path: RunnerRoutes.heartbeat, owner: 'runner' },
    { name: 'poll', method: 'POST', path: RunnerRoutes.poll, owner: 'runner' },
    { name: 'log chunk', method: 'POST', path: RunnerRoutes.logs(w.attempt.attempt_id), owner: 'job' },
    { name: 'complete', method: 'POST', path: RunnerRoutes.complete(w.attempt.attempt_id), owner: 'job' },
    { name: 'transcript batch', method: 'POST', path: RunnerRoutes.transcript(w.attempt.attempt_id), owner: 'job' },
    { name: 'set a secret', method: 'PUT', path: '/api/secrets/BENCH_BODY', owner: 'admin' },
    { name: 'add a webhook', method: 'POST', path: '/api/webhooks', owner: 'admin' },
    // A runner's deregister takes any body; its own tier would revoke the attacking runner.
    { name: 'deregister', method: 'POST', path: RunnerRoutes.deregister, owner: 'runner', tiers: ['none', 'wrong', 'registration', 'job'] },
  ];
}

interface BadBody {
  name: string;
  body: Buffer | string;
  headers?: Record<string, string>;
  chunked?: boolean;
  /** Heavy: sent only without a token and from the route's own tier. */
  heavy?: boolean;
}

function badBodies(): BadBody[] {
  const huge = `{"name":"${'x'.repeat(2 * 1024 * 1024)}"}`;
  return [
    { name: 'malformed JSON', body: '{"name":' },
    { name: 'JSON null', body: 'null' },
    { name: 'JSON array', body: '[]' },
    { name: 'JSON string', body: '"x"' },
    { name: 'number 1e999', body: '1e999' },
    { name: 'empty body, JSON type', body: '' },
    { name: 'text/plain body', body: '{}', headers: { 'content-type': 'text/plain' } },
    { name: 'form body', body: 'a=1&__proto__=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    { name: 'no content type', body: '{}', headers: {} },
    { name: 'JSON in UTF-16', body: Buffer.from('{}', 'utf16le'), headers: { 'content-type': 'application/json; charset=utf-16' } },
    { name: 'gzip-encoded JSON', body: zlib.gzipSync('{}'), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } },
    { name: 'invalid UTF-8', body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) },
    { name: '__proto__ key', body: '{"__proto__":{"admin":true}}' },
    { name: 'constructor.prototype key', body: '{"constructor":{"prototype":{"admin":true}}}' },
    { name: 'huge body, Content-Length 2 MB', body: huge, heavy: true },
    { name: 'huge body, chunked 2 MB', body: huge, chunked: true, heavy: true },
    { name: 'JSON 1,000,000 deep (2 MB)', body: '['.repeat(1_000_000) + ']'.repeat(1_000_000), heavy: true },
    { name: 'JSON objects 150,000 deep (0.9 MB)', body: '{"a":'.repeat(150_000) + '1' + '}'.repeat(150_000), heavy: true },
  ];
}

/** Malformed, mistyped, huge and deep bodies on every route that takes one. */
export function hostileBodies(w: World): Attack[] {
  const out: Attack[] = [];
  for (const route of bodyRoutes(w)) {
    for (const bad of badBodies()) {
      const tiers = bad.heavy ? [...new Set(['none', route.owner] as const)] : route.tiers;
      out.push({
        group: `body: ${route.name}`,
        name: bad.name,
        method: route.method,
        path: route.path,
        headers: bad.headers ?? JSON_TYPE,
        body: bad.body,
        chunked: bad.chunked,
        allowed: route.allowed ?? [route.owner],
        hostile: true,
        tiers: route.tiers ? tiers?.filter((t) => route.tiers!.includes(t)) : tiers,
        timeoutMs: 20_000,
      });
    }
  }
  return out;
}

/** Well-formed JSON with values that must be refused: prototype names, option-shaped refs and URLs, out-of-range numbers. */
export function hostileValues(w: World): Attack[] {
  const job = (name: string, fields: Record<string, unknown>): Attack => ({
    group: 'value: submit a job',
    name,
    method: 'POST',
    path: '/api/jobs',
    headers: JSON_TYPE,
    body: json({ repo_id: w.repo.id, title: 'hostile', labels: [NEVER_LABEL], ...fields }),
    allowed: ['admin'],
    hostile: true,
    tiers: ['none', 'job', 'admin'],
  });
  const followup = (name: string, fields: Record<string, unknown>): Attack => ({
    group: 'value: follow up a job',
    name,
    method: 'POST',
    path: `/api/jobs/${w.parkedJobId}/followup`,
    headers: JSON_TYPE,
    body: json({ title: 'hostile', labels: [NEVER_LABEL], ...fields }),
    allowed: ['admin'],
    hostile: true,
    tiers: ['none', 'job', 'admin'],
  });
  const spare = (name: string, fields: Record<string, unknown>): Attack => ({
    group: 'value: change a repo',
    name,
    method: 'PATCH',
    path: `/api/repos/${w.spareRepoId}`,
    headers: JSON_TYPE,
    body: json(fields),
    allowed: ['admin'],
    hostile: true,
    tiers: ['none', 'admin'],
  });
  const runner = (group: string, name: string, path: string, owner: Tier, body: unknown): Attack => ({
    group,
    name,
    method: 'POST',
    path,
    headers: JSON_TYPE,
    body: json(body),
    allowed: [owner],
    hostile: true,
    tiers: ['none', owner],
  });
  return [
    job('agent "constructor"', { agent: 'constructor' }),
    job('agent "__proto__"', { agent: '__proto__' }),
    job('repo_id "__proto__"', { repo_id: '__proto__', command: 'true' }),
    job('repo_id "constructor"', { repo_id: 'constructor', command: 'true' }),
    job('repo_id "toString"', { repo_id: 'toString', command: 'true' }),
    job('labels ["__proto__"]', { command: 'true', labels: ['__proto__'] }),
    ...[
      '../../etc/passwd',
      '--upload-pack=touch /tmp/lazyaf-pwned',
      'main\n',
      'HEAD',
      'main^{tree}',
      'main~1',
      '@{-1}',
      'main:README.md',
      'refs/heads/../config',
    ].map((b) => job(`base_branch ${JSON.stringify(b)}`, { command: 'true', base_branch: b })),
    job('timeout_s 1e308', { command: 'true', timeout_s: 1e308 }),
    job('timeout_s -1', { command: 'true', timeout_s: -1 }),
    job('max_attempts 1000', { command: 'true', max_attempts: 1000 }),
    job('title empty', { command: 'true', title: '' }),
    job('command and agent', { command: 'true', agent: 'claude' }),
    followup('repo_id (not a follow-up field)', { command: 'true', repo_id: w.repo.id }),
    followup('base_branch (not a follow-up field)', { command: 'true', base_branch: '../../etc' }),
    followup('parent_job_id (not a follow-up field)', { command: 'true', parent_job_id: w.attempt.job_id }),
    followup('title of 201 characters', { command: 'true', title: 'x'.repeat(201) }),
    followup('title empty', { command: 'true', title: '' }),
    followup('agent "__proto__"', { agent: '__proto__' }),
    followup('command and agent', { command: 'true', agent: 'claude' }),
    followup('no command, no agent', {}),
    followup('labels ["__proto__"]', { command: 'true', labels: ['__proto__'] }),
    followup('timeout_s 1e308', { command: 'true', timeout_s: 1e308 }),
    spare('remote_url ssh://[-oProxyCommand=...]/x', { remote_url: 'ssh://[-oProxyCommand=touch /tmp/lazyaf-pwned]/x' }),
    spare('remote_url ssh://%2doProxyCommand...', { remote_url: 'ssh://%2doProxyCommand=touch%20/tmp/lazyaf-pwned/x' }),
    spare('remote_url ssh://host:-oProxyCommand...', { remote_url: 'ssh://host:-oProxyCommand=touch/x' }),
    spare('remote_url ext::', { remote_url: 'ext::sh -c touch% /tmp/lazyaf-pwned' }),
    spare('remote_url -oProxyCommand', { remote_url: '-oProxyCommand=touch /tmp/lazyaf-pwned' }),
    spare('name shaped like a repo id', { name: w.repo.id }),
    spare('default_branch ../x', { default_branch: '../x' }),
    {
      group: 'value: land',
      name: 'branch --force',
      method: 'POST',
      path: `/api/repos/${w.repo.id}/land`,
      headers: JSON_TYPE,
      body: json({ branch: '--force' }),
      allowed: ['admin'],
      hostile: true,
      tiers: ['none', 'admin'],
    },
    {
      group: 'value: land',
      name: 'remote_branch main:refs/heads/x',
      method: 'POST',
      path: `/api/repos/${w.repo.id}/land`,
      headers: JSON_TYPE,
      body: json({ branch: 'main', remote_branch: 'main:refs/heads/x' }),
      allowed: ['admin'],
      hostile: true,
      tiers: ['none', 'admin'],
    },
    ...[-1, 257, 1.5, 1e9].map((d) => ({
      group: 'value: scale the pool',
      name: `desired ${d}`,
      method: 'PUT',
      path: '/api/pool',
      headers: JSON_TYPE,
      body: json({ desired: d }),
      allowed: ['admin'] as const,
      hostile: true,
      tiers: ['none', 'admin'] as const,
    })),
    runner('value: register', 'protocol_version of a newer runner', RunnerRoutes.register, 'registration', {
      name: 'x',
      protocol_version: PROTOCOL_VERSION + 1,
    }),
    runner('value: register', 'protocol_version 1e308', RunnerRoutes.register, 'registration', { name: 'x', protocol_version: 1e308 }),
    runner('value: register', 'name ../../x', RunnerRoutes.register, 'registration', { name: '../../x', protocol_version: PROTOCOL_VERSION }),
    runner('value: register', 'labels ["__proto__"]', RunnerRoutes.register, 'registration', {
      name: 'x',
      labels: ['__proto__'],
      protocol_version: PROTOCOL_VERSION,
    }),
    runner('value: heartbeat', 'status offline', RunnerRoutes.heartbeat, 'runner', { status: 'offline', attempts: [] }),
    runner('value: heartbeat', '17 attempts', RunnerRoutes.heartbeat, 'runner', { status: 'busy', attempts: Array.from({ length: 17 }, (_, i) => `a${i}`) }),
    runner('value: heartbeat', 'wait_ms 60001', RunnerRoutes.heartbeat, 'runner', { status: 'idle', attempts: [], wait_ms: 60_001 }),
    runner('value: poll', 'wait_ms -1', RunnerRoutes.poll, 'runner', { wait_ms: -1 }),
    runner('value: poll', 'wait_ms "constructor"', RunnerRoutes.poll, 'runner', { wait_ms: 'constructor' }),
    // Prototype names where a name is allowed: they must reach no object lookup.
    {
      group: 'value: register',
      name: 'name, labels and pool_id "constructor"',
      method: 'POST',
      path: RunnerRoutes.register,
      headers: JSON_TYPE,
      body: json({ name: 'constructor', labels: ['constructor', 'toString'], pool_id: '__proto__', protocol_version: PROTOCOL_VERSION }),
      allowed: ['registration'],
      tiers: ['none', 'registration'],
    },
    {
      group: 'value: heartbeat',
      name: 'attempts named __proto__ and constructor',
      method: 'POST',
      path: RunnerRoutes.heartbeat,
      headers: JSON_TYPE,
      body: json({ status: 'idle', attempts: ['__proto__', 'constructor', 'toString'] }),
      allowed: ['runner'],
      tiers: ['none', 'runner'],
    },
  ];
}

/** Ids that are not ids: traversal, encodings, prototype names, sizes. */
export function hostileIds(w: World): Attack[] {
  const ids = [
    '..',
    '%2e%2e',
    '..%2f..%2f..%2fetc%2fpasswd',
    '%2f',
    '.',
    '%00',
    'a%2fb',
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    '%25',
    '_',
    'x'.repeat(5000),
    w.repo.id.toUpperCase(),
    `${w.repo.id}%00`,
    `${w.attempt.job_id.slice(0, 7)}%25`,
  ];
  const tiers = ['none', 'wrong', 'runner', 'job', 'admin'] as const;
  const out: Attack[] = [];
  for (const id of ids) {
    const label = id.length > 40 ? `${id.slice(0, 10)}… (${id.length} chars)` : id;
    const at = (name: string, method: string, path: string, allowed: readonly Tier[] = ['admin']): Attack => ({
      group: `id: ${name}`,
      name: label,
      method,
      path,
      allowed,
      hostile: true,
      tiers,
    });
    out.push(
      at('show a repo', 'GET', `/api/repos/${id}`),
      at('branches', 'GET', `/api/repos/${id}/branches`),
      at('show a job', 'GET', `/api/jobs/${id}`),
      at('a job log', 'GET', `/api/jobs/${id}/logs`),
      at('a job diff', 'GET', `/api/jobs/${id}/diff`),
      at('a job transcript', 'GET', `/api/jobs/${id}/transcript`),
      {
        ...at('transcript batch', 'POST', `/api/runners/attempts/${id}/transcript`, ['job']),
        headers: JSON_TYPE,
        body: json({ seq: 1, entries: [{ type: 'message', text: 'x' }] }),
      },
      at('cancel a job', 'POST', `/api/jobs/${id}/cancel`),
      at('rerun a job', 'POST', `/api/jobs/${id}/rerun`),
      { ...at('follow up a job', 'POST', `/api/jobs/${id}/followup`), headers: JSON_TYPE, body: json({ title: 'x', command: 'true', labels: [NEVER_LABEL] }) },
      at('revoke a runner', 'DELETE', `/api/runners/${id}`),
      { ...at('log chunk', 'POST', `/api/runners/attempts/${id}/logs`, ['job']), headers: JSON_TYPE, body: json({ seq: 1, data: 'x' }) },
      at('git refs', 'GET', `/git/${id}.git/info/refs?service=git-upload-pack`, ['admin', 'job']),
      at('git HEAD', 'GET', `/git/${id}/HEAD`, ['admin', 'job']),
    );
  }
  return out;
}

/** Paths that reach (or look like they reach) an admin route without the admin token. */
export function hostilePaths(): Attack[] {
  const paths = [
    '/api/../api/repos',
    '/api//repos',
    '/API/repos',
    '/api/repos/',
    '/%61pi/repos',
    '/api%2frepos',
    '//api/repos',
    'http://evil.example/api/repos',
    '/api/repos?x=1',
    '/api/repos;x',
    '/api/health/../repos',
    '/api/repos#x',
    '/docs/../api/repos',
    '/api/runners/status/',
  ];
  return paths.map((path) => ({
    group: 'path',
    name: path,
    method: 'GET',
    path,
    allowed: [] as const,
    tiers: ['none', 'wrong', 'registration', 'runner', 'job'] as const,
  }));
}

/** Authorization headers of odd shapes, sent with no other credential. */
export function oddAuthHeaders(w: World): Attack[] {
  const admin = w.tokens.admin;
  const headers = [
    ['Bearer alone', 'Bearer'],
    ['Bearer and spaces', 'Bearer    '],
    ['admin token plus a suffix', `Bearer ${admin}x`],
    ['admin token, one character short', `Bearer ${admin.slice(0, -1)}`],
    ['admin token and a second word', `Bearer ${admin} extra`],
    ['Basic with garbage', 'Basic %%%%'],
    ['Basic without a colon', `Basic ${Buffer.from(admin).toString('base64')}`],
    ['registration token as Basic', `Basic ${Buffer.from(`x:${w.tokens.registration}`).toString('base64')}`],
    ['a 12 KB token', `Bearer ${'a'.repeat(12_000)}`],
    ['Digest scheme', `Digest username="x", response="${admin}"`],
  ];
  return headers.flatMap(([name, value]) => [
    { group: 'auth header: list repos', name: name!, method: 'GET', path: '/api/repos', authorization: value!, allowed: [] as const, tiers: ['none'] as const },
    {
      group: 'auth header: git refs',
      name: name!,
      method: 'GET',
      path: `/git/${w.repo.id}.git/info/refs?service=git-upload-pack`,
      authorization: value!,
      allowed: [] as const,
      tiers: ['none'] as const,
    },
    {
      group: 'auth header: poll',
      name: name!,
      method: 'POST',
      path: RunnerRoutes.poll,
      headers: JSON_TYPE,
      body: '{"wait_ms":0}',
      authorization: value!,
      allowed: [] as const,
      tiers: ['none'] as const,
    },
  ]);
}

/** Query strings out of range, repeated or naming prototype properties. */
export function hostileQueries(w: World): Attack[] {
  const q = (group: string, path: string, query: string, hostile = true): Attack => ({
    group,
    name: query,
    method: 'GET',
    path: `${path}?${query}`,
    allowed: ['admin'],
    hostile,
    tiers: ['none', 'job', 'admin'],
  });
  const logs = `/api/jobs/${w.attempt.job_id}/logs`;
  const diff = `/api/jobs/${w.attempt.job_id}/diff`;
  return [
    ...['offset=-1', 'offset=abc', 'offset=1&offset=2', 'limit=0', 'limit=99999999', 'follow=maybe', 'constructor=1', '__proto__[x]=1'].map((x) =>
      q('query: a job log', logs, x),
    ),
    ...['offset=9007199254740991', 'offset=1e308'].map((x) => q('query: a job log', logs, x, false)),
    ...['max_bytes=0', 'max_bytes=abc', 'max_bytes=-1', 'max_bytes=99999999999', 'max_bytes=1024&max_bytes=2048', 'stat=maybe', 'constructor=1'].map((x) =>
      q('query: a job diff', diff, x),
    ),
    ...['stat=true', 'max_bytes=1024', 'max_bytes=16777216&stat=false'].map((x) => q('query: a job diff', diff, x, false)),
    ...['limit=1001', 'status=constructor', 'status=__proto__', `runner_id=${'x'.repeat(65)}`, 'before=1', 'limit=1&limit=2', 'repo_id=__proto__'].map((x) =>
      q('query: list jobs', '/api/jobs', x),
    ),
  ];
}
