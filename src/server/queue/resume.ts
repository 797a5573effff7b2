import { MAX_PARENT_SUMMARY_BYTES, type AgentRun } from '../../shared/protocol.js';
import type { SessionFiles } from '../session-files.js';
import type { JobRow } from '../store/jobs.js';
import { parentSummary } from './parent-summary.js';
import type { QueueStores } from './core.js';

/**
 * The entries a summary reads: its first line comes from the first entries that make one, and its
 * latest lines fill what is left of MAX_PARENT_SUMMARY_BYTES, each at least 8 bytes ("- error: ").
 */
const SUMMARY_HEAD = 20;
const SUMMARY_TAIL = Math.ceil(MAX_PARENT_SUMMARY_BYTES / 8);

export type Continuation = Pick<AgentRun, 'resume' | 'parent_conversation'>;

/**
 * What a follow-up that continues its parent's conversation (`resume_parent`) is told: the
 * parent's latest attempt with a session id and stored files to resume (recorded on this attempt,
 * the only files its job token may then fetch), and always a summary of the parent's transcript,
 * which the runner puts in the prompt when the conversation cannot be resumed after all. The
 * summary goes with every such assignment rather than only when the server knows of no session:
 * the runner learns of most failures (files it cannot unpack, a CLI that does not find the
 * session) only once it has the job.
 */
export function continuationFor(
  job: JobRow,
  attemptId: string,
  store: Pick<QueueStores, 'jobs' | 'attempts' | 'transcripts'>,
  files: SessionFiles | undefined,
): Continuation {
  const parent = job.resume_parent === 1 && job.parent_job_id ? store.jobs.get(job.parent_job_id) : undefined;
  if (!parent) return { resume: null };
  const withFiles = store.attempts.lastSessionWithFiles(parent.id);
  const source = withFiles && files?.exists(parent.repo_id, withFiles.id) ? withFiles : undefined;
  const summarized = source ?? store.attempts.lastSession(parent.id);
  const { entries, gap } = store.transcripts.ends(parent, summarized?.number, SUMMARY_HEAD, SUMMARY_TAIL);
  const summary = parentSummary(parent.id, entries, MAX_PARENT_SUMMARY_BYTES, gap);
  if (source?.session_id) {
    store.attempts.setResumeFrom(attemptId, source.id);
    return { resume: { session_id: source.session_id, attempt_id: source.id }, parent_conversation: { summary, unavailable: null } };
  }
  const short = parent.id.slice(0, 8);
  const unavailable = summarized
    ? `the session files of job ${short} were not kept (the runner sent none, or more than the cap)`
    : `the agent of job ${short} reported no session`;
  return { resume: null, parent_conversation: { summary, unavailable } };
}
