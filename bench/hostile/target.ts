import fs from 'node:fs';
import path from 'node:path';
import { isolatedGitEnv } from '../lib/git-env.js';
import { makeTempDir } from '../lib/proc.js';
import { rawRequest, type RawRequest, type RawResponse } from '../lib/raw-http.js';
import { startLazyaf, type ServerProcess } from '../lib/servers.js';

/**
 * The server under attack: a real `lazyaf server` process. A crash (the process is gone) or a
 * hang (it no longer answers /api/health) is counted and the server is started again on the
 * same data dir, so one fatal input does not hide the ones after it.
 */
export class Target {
  private server!: ServerProcess;
  readonly crashes: { after: string; how: string }[] = [];

  private constructor(
    readonly dataDir: string,
    readonly adminToken: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly runners: number,
  ) {}

  /** A server with `runners` pool runners (none by default: the attacks play the runners themselves). */
  static async start(dataDir: string, home: string, adminToken: string, env: NodeJS.ProcessEnv, runners = 0): Promise<Target> {
    const target = new Target(dataDir, adminToken, { ...isolatedGitEnv(home), ...env }, runners);
    target.server = await startLazyaf(dataDir, adminToken, target.env, runners);
    return target;
  }

  /**
   * A server in a fresh temp dir (`<dir>/data`), with a HOME of its own for git there, whose
   * environment the bench's own git calls share: what each hostile part starts from.
   */
  static async inTempDir(
    prefix: string,
    adminToken: string,
    env: NodeJS.ProcessEnv,
    runners = 0,
  ): Promise<{ target: Target; dir: string; gitEnv: NodeJS.ProcessEnv }> {
    const dir = makeTempDir(prefix);
    const home = path.join(dir, 'home');
    fs.mkdirSync(home);
    return { target: await Target.start(path.join(dir, 'data'), home, adminToken, env, runners), dir, gitEnv: isolatedGitEnv(home) };
  }

  get url(): string {
    return this.server.url;
  }

  get pid(): number {
    return this.server.pid;
  }

  request(req: RawRequest): Promise<RawResponse> {
    return rawRequest(this.server.url, req);
  }

  async health(timeoutMs = 5000): Promise<RawResponse> {
    return rawRequest(this.server.url, { method: 'GET', path: '/api/health', timeoutMs });
  }

  /** The process is gone (cheap: no request). */
  exited(): boolean {
    return this.server.child.exitCode !== null || this.server.child.signalCode !== null;
  }

  /** Whether the server is still there and answering; if not, counts a crash and starts it again. */
  async ensureAlive(after: string): Promise<boolean> {
    const child = this.server.child;
    let how: string | undefined;
    if (this.exited()) how = `exited (${child.exitCode ?? child.signalCode}): ${this.server.output().trim().split('\n').slice(-3).join(' | ')}`;
    else {
      const h = await this.health();
      if (h.status !== 200) how = `stopped answering /api/health (${h.status || h.error})`;
    }
    if (!how) return true;
    this.crashes.push({ after, how });
    await this.server.stop();
    this.server = await startLazyaf(this.dataDir, this.adminToken, this.env, this.runners);
    return false;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}

/** Who is asking. Ordered so that an admin request, which may change things, comes last. */
export const TIERS = ['none', 'wrong', 'registration', 'runner', 'job-dead', 'job-cancelled', 'job-other', 'job', 'admin'] as const;
export type Tier = (typeof TIERS)[number];
/** Every tier but admin: for requests whose admin success would change what later requests aim at. */
export const NOT_ADMIN: readonly Tier[] = TIERS.filter((t) => t !== 'admin');

export type Tokens = Record<Exclude<Tier, 'none'>, string>;

/** The Authorization header a tier sends: Bearer for the API, Basic (any user) for git, as clients do. */
export function authHeader(tokens: Tokens, tier: Tier, style: 'bearer' | 'basic'): Record<string, string> {
  if (tier === 'none') return {};
  const token = tokens[tier];
  return { authorization: style === 'basic' ? `Basic ${Buffer.from(`x:${token}`).toString('base64')}` : `Bearer ${token}` };
}

export type Verdict = 'ok' | 'server error' | 'no answer' | 'unauthorised success' | 'hostile input accepted' | 'body read before the token check';

/** How bad each verdict is: one request gets the worst that applies. */
export const VERDICTS: Verdict[] = ['server error', 'no answer', 'unauthorised success', 'hostile input accepted', 'body read before the token check'];

interface Row {
  group: string;
  name: string;
  tier: Tier;
  method: string;
  path: string;
  verdict: Verdict;
  statuses: Map<string, number>;
  sample: string;
  note?: string;
}

/** Tokens never reach the report, even inside a response body that echoes one. */
export function redactTokens(text: string): string {
  return text.replace(/\blz[a-z]{3}_[A-Za-z0-9_-]{8,}/g, 'lz***');
}

function shortPath(path: string): string {
  return path.length > 110 ? `${path.slice(0, 100)}…(${path.length} chars)` : path;
}

/** Many cases of one verdict, one line per group: how many inputs, from which tiers, with which statuses. */
function summaryByGroup(rows: Row[]): string[] {
  const groups = new Map<string, { names: Set<string>; tiers: Set<string>; statuses: Map<string, number>; method: string; path: string }>();
  for (const r of rows) {
    const g = groups.get(r.group) ?? { names: new Set(), tiers: new Set(), statuses: new Map(), method: r.method, path: r.path };
    g.names.add(r.name);
    g.tiers.add(r.tier);
    for (const [s, n] of r.statuses) g.statuses.set(s, (g.statuses.get(s) ?? 0) + n);
    groups.set(r.group, g);
  }
  return [...groups].map(
    ([group, g]) =>
      `  ${group}  ${g.method} ${g.path}  ${g.names.size} inputs  [tiers ${[...g.tiers].join(',')}; statuses ${[...g.statuses].map(([s, n]) => `${s}×${n}`).join(', ')}]`,
  );
}

/** Every classified request, grouped by what was sent and who sent it. */
export class Tally {
  private readonly rows = new Map<string, Row>();
  readonly counts = new Map<Verdict, number>();
  requests = 0;
  readonly slowest: { ms: number; what: string }[] = [];

  add(req: { group: string; name: string; tier: Tier; method: string; path: string }, res: RawResponse, verdict: Verdict, note?: string): void {
    this.requests += 1;
    this.counts.set(verdict, (this.counts.get(verdict) ?? 0) + 1);
    const key = `${req.group}\u0000${req.name}\u0000${req.tier}\u0000${verdict}`;
    let row = this.rows.get(key);
    if (!row) {
      row = { ...req, path: shortPath(req.path), verdict, statuses: new Map(), sample: '', note };
      this.rows.set(key, row);
    }
    const status = res.status === 0 ? `none (${res.error})` : String(res.status);
    row.statuses.set(status, (row.statuses.get(status) ?? 0) + 1);
    // Shown on a terminal: nothing the server sent may reach it as a control sequence.
    if (!row.sample)
      row.sample = redactTokens(
        res.body
          .subarray(0, 160)
          .toString('utf8')
          .replace(/\s+/g, ' ')
          .replace(/[^\x20-\x7e]/g, '.'),
      );
    this.slowest.push({ ms: res.ms, what: `${req.group}: ${req.name} [${req.tier}] → ${status}` });
    this.slowest.sort((a, b) => b.ms - a.ms);
    this.slowest.length = Math.min(this.slowest.length, 5);
  }

  count(verdict: Verdict): number {
    return this.counts.get(verdict) ?? 0;
  }

  /** Lines for a developer: per verdict, which request, from which tier, with which statuses. */
  report(): string[] {
    const lines: string[] = [];
    for (const verdict of VERDICTS) {
      const rows = [...this.rows.values()].filter((r) => r.verdict === verdict);
      if (rows.length === 0) continue;
      lines.push(`${verdict}: ${this.count(verdict)} requests`);
      const byCase = new Map<string, Row[]>();
      for (const r of rows) byCase.set(`${r.group}: ${r.name}`, [...(byCase.get(`${r.group}: ${r.name}`) ?? []), r]);
      if (byCase.size > 25) {
        lines.push(...summaryByGroup(rows));
        continue;
      }
      for (const [label, group] of byCase) {
        const first = group[0]!;
        const tiers = group.map((r) => `${r.tier} ${[...r.statuses].map(([s, n]) => (n > 1 ? `${s}×${n}` : s)).join(',')}`).join('; ');
        lines.push(`  ${label}  ${first.method} ${first.path}  [${tiers}]${first.note ? `  (${first.note})` : ''}`);
        if (first.sample) lines.push(`      ${first.sample}`);
      }
    }
    return lines;
  }

  /** Every request, as data for the results file. */
  toJSON(): unknown[] {
    return [...this.rows.values()].map((r) => ({ ...r, statuses: Object.fromEntries(r.statuses) }));
  }
}
