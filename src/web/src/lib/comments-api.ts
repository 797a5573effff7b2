import type { Comment, CommentList, Job, NewComment, SendComments } from '../../../shared/api.js';
import { api, seg } from './api.js';

type Signal = AbortSignal | undefined;

/** `/api/jobs/{id}/comments`: review comments on a job's diff, and sending them to the agent as a follow-up. */
export const commentsApi = {
  list: (jobId: string, signal?: Signal): Promise<CommentList> => api('GET', `/api/jobs/${seg(jobId)}/comments`, undefined, { signal }),
  /** The comments sent to this job as a follow-up, each on its own (parent) job's diff, `touched_by_job_id` saying which its diff changed. */
  sentTo: (jobId: string, signal?: Signal): Promise<CommentList> => api('GET', `/api/jobs/${seg(jobId)}/comments?sent_to=true`, undefined, { signal }),
  add: (jobId: string, body: NewComment): Promise<Comment> => api('POST', `/api/jobs/${seg(jobId)}/comments`, body),
  resolve: (jobId: string, commentId: string): Promise<Comment> => api('POST', `/api/jobs/${seg(jobId)}/comments/${seg(commentId)}/resolve`),
  remove: (jobId: string, commentId: string): Promise<void> => api('DELETE', `/api/jobs/${seg(jobId)}/comments/${seg(commentId)}`),
  /** Answers the follow-up job that holds every unresolved, unsent comment. */
  send: (jobId: string, body: SendComments = {}): Promise<Job> => api('POST', `/api/jobs/${seg(jobId)}/comments/send`, body),
};
