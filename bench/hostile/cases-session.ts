import { RunnerRoutes } from '../../src/shared/protocol.js';
import { CSRF_HEADER, SESSION_COOKIE } from '../../src/shared/session.js';
import type { Attack } from './attack.js';
import type { World } from './world.js';

const JSON_TYPE = { 'content-type': 'application/json' };

/**
 * The web UI's session cookie, sent without any Authorization header: forged and malformed
 * cookies must get nowhere, and the real one must not write without its CSRF token, from another
 * origin, on git, or outside the API.
 */
export function hostileCookies(w: World): Attack[] {
  const fake = 'A'.repeat(43);
  const forged = [
    ['a secret never issued', `${SESSION_COOKIE}=${fake}`],
    ['a 12 KB value', `${SESSION_COOKIE}=${'x'.repeat(12_000)}`],
    ['empty', `${SESSION_COOKIE}=`],
    ['no value', SESSION_COOKIE],
    ['100 duplicates', `${SESSION_COOKIE}=${fake}; `.repeat(100)],
    ['quoted', `${SESSION_COOKIE}="${fake}"`],
    ['percent-encoded', `${SESSION_COOKIE}=%41${fake.slice(3)}`],
    ['the CSRF token as the secret', `${SESSION_COOKIE}=${w.session.csrf}`],
    ['prototype names', `__proto__=1; constructor=2; ${SESSION_COOKIE}=__proto__`],
    ['only separators', ';;;;=;=;'],
    ['Latin-1 bytes', `${SESSION_COOKIE}=${fake}\u00e9\u00ff`],
  ];
  const none = ['none'] as const;
  const asBrowser = (group: string, name: string, method: string, path: string, headers: Record<string, string>, body?: string): Attack => ({
    group,
    name,
    method,
    path,
    headers: { cookie: w.session.cookie, ...(body === undefined ? {} : JSON_TYPE), ...headers },
    body,
    allowed: [],
    tiers: none,
  });
  const csrf = { [CSRF_HEADER]: w.session.csrf };
  const newRepo = () => JSON.stringify({ name: w.unique('by-cookie') });
  return [
    ...forged.flatMap(([name, cookie]) => [
      { group: 'cookie: list jobs', name: name!, method: 'GET', path: '/api/jobs', headers: { cookie: cookie! }, allowed: [], tiers: none },
      { group: 'cookie: session state', name: name!, method: 'GET', path: '/api/session', headers: { cookie: cookie! }, allowed: none, tiers: none },
      {
        group: 'cookie: create a repo',
        name: name!,
        method: 'POST',
        path: '/api/repos',
        headers: { cookie: cookie!, ...JSON_TYPE, [CSRF_HEADER]: w.session.csrf },
        body: newRepo(),
        allowed: [],
        tiers: none,
      },
    ]),
    asBrowser('session: create a repo', 'without the CSRF header', 'POST', '/api/repos', {}, newRepo()),
    asBrowser('session: create a repo', 'with a wrong CSRF header', 'POST', '/api/repos', { [CSRF_HEADER]: 'A'.repeat(43) }, newRepo()),
    asBrowser('session: create a repo', 'with two CSRF headers', 'POST', '/api/repos', { [CSRF_HEADER]: `${w.session.csrf}, ${w.session.csrf}` }, newRepo()),
    asBrowser('session: create a repo', 'from another origin', 'POST', '/api/repos', { ...csrf, origin: 'http://evil.example' }, newRepo()),
    asBrowser('session: create a repo', 'from an opaque origin', 'POST', '/api/repos', { ...csrf, origin: 'null' }, newRepo()),
    asBrowser('session: cancel a job', 'without the CSRF header', 'POST', `/api/jobs/${w.parkedJobId}/cancel`, {}),
    asBrowser('session: scale the pool', 'without the CSRF header', 'PUT', '/api/pool', {}, JSON.stringify({ desired: 0 })),
    asBrowser('session: a sign-in link', 'without the CSRF header', 'POST', '/api/session/links', {}),
    asBrowser('session: sign out', 'without the CSRF header', 'DELETE', '/api/session', {}),
    asBrowser('session: git refs', 'the cookie on git', 'GET', `/git/${w.repo.id}.git/info/refs?service=git-upload-pack`, csrf),
    asBrowser('session: poll', 'the cookie on the runner protocol', 'POST', RunnerRoutes.poll, csrf, '{"wait_ms":0}'),
    // The cookie does work where it should: a read, and a write with its token from its own origin.
    { ...asBrowser('session: list jobs', 'the session itself', 'GET', '/api/jobs', {}), allowed: none },
    { ...asBrowser('session: create a repo', 'with the CSRF header', 'POST', '/api/repos', csrf, newRepo()), allowed: none },
  ];
}
