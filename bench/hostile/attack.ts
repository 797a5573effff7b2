import type { RawResponse } from '../lib/raw-http.js';
import { refChanges, refsOf, restoreRefs } from './git-wire.js';
import { authHeader, TIERS, type Tally, type Target, type Tier, type Tokens, type Verdict } from './target.js';

/** One hostile request, sent once from each of its tiers. */
export interface Attack {
  group: string;
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string | string[]>;
  /** A function when each tier needs its own body (a fresh name, the next log number). */
  body?: Buffer | string | ((tier: Tier) => Buffer | string);
  chunked?: boolean;
  /** Replaces the tier's Authorization header (odd header shapes). */
  authorization?: string;
  /** The tiers that may succeed. */
  allowed: readonly Tier[];
  /** The input itself must be refused, whoever sends it. */
  hostile?: boolean;
  /** The tiers to send it from (default: all). */
  tiers?: readonly Tier[];
  /**
   * A push: its effect is what moved in this bare repo, not the status (receive-pack answers 200
   * with "ng" when it refuses). Admin may move any ref, the job tier only `jobRef`.
   */
  refs?: { repo: string; jobRef: string };
  /** A 2xx that is still a refusal (git's in-band "ERR"). */
  refusal?: (res: RawResponse) => boolean;
  /** Checks an answer beyond its status; returns what is wrong. */
  check?: (res: RawResponse, tier: Tier) => string | undefined;
  timeoutMs?: number;
}

function classify(a: Attack, tier: Tier, res: RawResponse, changed: string[]): { verdict: Verdict; note?: string } {
  if (res.status >= 500) return { verdict: 'server error' };
  if (res.status === 0) return { verdict: 'no answer' };
  const allowed = a.allowed.includes(tier);
  const note = changed.length > 0 ? `refs changed: ${changed.join(', ')}` : undefined;
  const mayMove = (line: string) => tier === 'admin' || (tier === 'job' && line.startsWith(`${a.refs?.jobRef}:`));
  if (changed.some((line) => !mayMove(line))) return { verdict: 'unauthorised success', note };
  const success = a.refs ? changed.length > 0 : res.status >= 200 && res.status < 300 && !a.refusal?.(res);
  if (success && !allowed) return { verdict: 'unauthorised success', note };
  if (success && a.hostile) return { verdict: 'hostile input accepted', note };
  const problem = a.check?.(res, tier);
  if (problem) return { verdict: 'unauthorised success', note: problem };
  // 400 is validation, 413 after a chunked body is a counted body: either way the body was read for a caller with no right to send it.
  const bodyRead = res.status === 400 || (res.status === 413 && a.chunked === true);
  if (!allowed && a.body !== undefined && bodyRead) return { verdict: 'body read before the token check' };
  return { verdict: 'ok' };
}

export async function runAttack(target: Target, tally: Tally, tokens: Tokens, a: Attack, gitEnv: NodeJS.ProcessEnv): Promise<void> {
  const style = a.path.startsWith('/git/') ? 'basic' : 'bearer';
  for (const tier of a.tiers ?? TIERS) {
    const auth = a.authorization !== undefined ? { authorization: a.authorization } : authHeader(tokens, tier, style);
    const before = a.refs ? await refsOf(a.refs.repo, gitEnv) : undefined;
    const body = typeof a.body === 'function' ? a.body(tier) : a.body;
    const res = await target.request({ method: a.method, path: a.path, headers: { ...auth, ...a.headers }, body, chunked: a.chunked, timeoutMs: a.timeoutMs });
    let changed: string[] = [];
    if (a.refs && before) {
      const after = await refsOf(a.refs.repo, gitEnv);
      changed = refChanges(before, after);
      await restoreRefs(a.refs.repo, before, after, gitEnv);
    }
    const { verdict, note } = classify(a, tier, res, changed);
    tally.add({ group: a.group, name: a.name, tier, method: a.method, path: a.path }, res, verdict, note);
  }
}
