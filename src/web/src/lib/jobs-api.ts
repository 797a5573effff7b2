import type { FollowupJob, Job, JobDiff, JobLandRequest, JobLandResult, JobList, JobLogs, SubmitJob, Transcript } from '../../../shared/api.js';
import { api, seg } from './api.js';

type Signal = AbortSignal | undefined;

/** `/api/jobs`: the job list, one job, what can be done with it, and what it wrote. */
export const jobsApi = {
  list: (limit: number, signal?: Signal): Promise<JobList> => api('GET', `/api/jobs?limit=${limit}`, undefined, { signal }),
  get: (id: string, signal?: Signal): Promise<Job> => api('GET', `/api/jobs/${seg(id)}`, undefined, { signal }),
  submit: (body: SubmitJob): Promise<Job> => api('POST', '/api/jobs', body),
  followup: (id: string, body: FollowupJob): Promise<Job> => api('POST', `/api/jobs/${seg(id)}/followup`, body),
  /** Cancel and Retry answer with the job itself; Rerun with the new job. */
  act: (id: string, action: 'cancel' | 'retry' | 'rerun'): Promise<Job> => api('POST', `/api/jobs/${seg(id)}/${action}`),
  /** Pushes the job's branch to the repo's remote from the server, and opens a pull request with `pr`. */
  land: (id: string, body: JobLandRequest): Promise<JobLandResult> => api('POST', `/api/jobs/${seg(id)}/land`, body),
  logs: (id: string, offset: number, limit: number, signal?: Signal): Promise<JobLogs> =>
    api('GET', `/api/jobs/${seg(id)}/logs?offset=${offset}&limit=${limit}`, undefined, { signal }),
  transcript: (id: string, after: number, limit: number, signal?: Signal): Promise<Transcript> =>
    api('GET', `/api/jobs/${seg(id)}/transcript?after=${after}&limit=${limit}`, undefined, { signal }),
  diff: (id: string, signal?: Signal): Promise<JobDiff> => api('GET', `/api/jobs/${seg(id)}/diff`, undefined, { signal }),
};
