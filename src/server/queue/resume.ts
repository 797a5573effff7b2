import type { AgentRun } from '../../shared/protocol.js';
import type { SessionFiles } from '../session-files.js';
import type { JobRow } from '../store/jobs.js';
import { parentSummary } from './parent-summary.js';
import type { QueueStores } from './core.js';

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
  const transcript = store.transcripts.read(parent, summarized?.number, 0);
  const summary = parentSummary(parent.id, transcript.entries);
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
