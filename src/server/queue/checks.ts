import type { CheckResult } from '../../shared/environment.js';
import type { AttemptEndReason, CompleteRequest } from '../../shared/protocol.js';
import { ApiError } from '../errors.js';

/** A check's name as `.lazyaf.yml` allows it (RepoEnvironment's `checks` keys). */
const CHECK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * What a runner reports of the checks, held to what a repo can declare: the schema already bounds
 * their number (20), each status and each output's length; this refuses what it cannot say (a
 * name no `.lazyaf.yml` allows, the same name twice), so that what the job shows is one line per
 * check a person declared. A 400: the runner's report is wrong, not the job.
 */
export function mustBeValidChecks(checks: readonly CheckResult[] | undefined): void {
  if (!checks) return;
  const seen = new Set<string>();
  for (const check of checks) {
    if (!CHECK_NAME_RE.test(check.name)) throw new ApiError(400, `invalid check name ${JSON.stringify(check.name.slice(0, 80))}`);
    if (seen.has(check.name)) throw new ApiError(400, `check ${check.name} is reported twice`);
    seen.add(check.name);
  }
}

/** How an attempt ends for its job once its checks are weighed. */
export interface ChecksVerdict {
  reason: AttemptEndReason;
  /** Set when the checks turned a success into a failure: which ones. */
  error?: string;
}

/**
 * The outcome the job's status is decided from: the runner's, except that a command that
 * succeeded fails when the job requires its checks and one did not pass (failed, or could not
 * run to its end). Without `required` the checks are recorded and change nothing: a person reads
 * them. A pure function, so the rule is tested without a server (test/check-verdict.test.ts).
 */
export function checksVerdict(req: Pick<CompleteRequest, 'outcome' | 'checks'>, required: boolean): ChecksVerdict {
  if (!required || req.outcome !== 'succeeded') return { reason: req.outcome };
  const notPassed = (req.checks ?? []).filter((c) => c.status !== 'passed');
  if (notPassed.length === 0) return { reason: req.outcome };
  const names = notPassed.map((c) => c.name);
  const what = names.length === 1 ? `check ${names[0]}` : `checks ${names.join(', ')}`;
  const errored = notPassed.length === 1 && notPassed[0]!.status === 'error' ? ' (it could not run to its end)' : '';
  return { reason: 'failed', error: `${what} failed${errored}` };
}
