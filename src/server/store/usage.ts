import type { Db } from '../db/index.js';
import type { UsageSum } from '../../shared/api.js';

export interface UsageFilter {
  /** Only attempts that ended on or after this ISO day or time. */
  since: string;
  /** Only this repo's jobs; null for all. */
  repo_id: string | null;
}

export type UsageByRepo = UsageSum & { repo_id: string; repo_name: string };
export type UsageByDay = UsageSum & { day: string };
export type UsageByAgent = UsageSum & { agent: string };

/**
 * The sums over a set of attempts; a job counts once however many of its attempts it holds. TOTAL,
 * not SUM: SUM of integers raises past 2^63, and a runner's report may hold any count the schema
 * takes: one such attempt would fail every report after it.
 */
const SUMS = `COUNT(DISTINCT a.job_id) AS jobs,
  TOTAL(json_extract(a.usage, '$.input_tokens')) AS input_tokens,
  TOTAL(json_extract(a.usage, '$.output_tokens')) AS output_tokens,
  TOTAL(json_extract(a.usage, '$.cache_read_tokens')) AS cache_read_tokens,
  TOTAL(json_extract(a.usage, '$.cache_write_tokens')) AS cache_write_tokens,
  TOTAL(json_extract(a.usage, '$.cost_usd')) AS cost_usd,
  COUNT(DISTINCT CASE WHEN json_extract(a.usage, '$.cost_usd') IS NULL THEN a.job_id END) AS jobs_without_cost`;
/** Every attempt that reported usage (all of them: a retried or requeued attempt spent its tokens too), filtered. */
const FROM = `FROM attempts a JOIN jobs j ON j.id = a.job_id JOIN repos r ON r.id = j.repo_id
  WHERE a.usage IS NOT NULL AND a.ended_at >= @since AND (@repo_id IS NULL OR j.repo_id = @repo_id)`;

/**
 * The SQL that sums agents' usage. It reads the `usage` column of `attempts` (joined to its job
 * and repo for the grouping): a report, not a table of its own, kept apart from the attempts'
 * own statements.
 */
export class UsageStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      // Returns one row: the sums over every matching attempt.
      total: db.prepare<[UsageFilter], UsageSum>(`SELECT ${SUMS} ${FROM}`),
      // Returns the sums per repo, the costliest first.
      byRepo: db.prepare<[UsageFilter], UsageByRepo>(
        `SELECT j.repo_id AS repo_id, r.name AS repo_name, ${SUMS} ${FROM} GROUP BY j.repo_id ORDER BY cost_usd DESC, repo_name`,
      ),
      // Returns the sums per day (UTC) an attempt ended, newest first.
      byDay: db.prepare<[UsageFilter], UsageByDay>(`SELECT substr(a.ended_at, 1, 10) AS day, ${SUMS} ${FROM} GROUP BY day ORDER BY day DESC`),
      // Returns the sums per agent over every attempt ever (for /metrics), by agent name.
      byAgent: db.prepare<[UsageFilter], UsageByAgent>(`SELECT j.agent AS agent, ${SUMS} ${FROM} GROUP BY j.agent ORDER BY j.agent`),
    };
  }

  total(filter: UsageFilter): UsageSum {
    return finite(this.stmts.total.get(filter)!);
  }

  byRepo(filter: UsageFilter): UsageByRepo[] {
    return this.stmts.byRepo.all(filter).map(finite);
  }

  byDay(filter: UsageFilter): UsageByDay[] {
    return this.stmts.byDay.all(filter).map(finite);
  }

  byAgent(filter: UsageFilter): UsageByAgent[] {
    return this.stmts.byAgent.all(filter).map(finite);
  }
}

/** A sum of floats past 1.8e308 is Infinity, which JSON cannot say: the largest number instead. */
function finite<T extends UsageSum>(row: T): T {
  const out: Record<string, unknown> = { ...row };
  for (const [k, v] of Object.entries(row)) if (typeof v === 'number' && !Number.isFinite(v)) out[k] = Number.MAX_VALUE;
  return out as T;
}
