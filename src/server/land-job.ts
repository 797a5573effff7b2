import type { JobLandRequest, JobLandResult } from '../shared/api.js';
import type { ServerContext } from './context.js';
import { ApiError } from './errors.js';
import type { JobRow } from './store/jobs.js';

/** Pushes a finished job's branch to its repo's remote from the server, and records the landing. */
export async function landJob(ctx: ServerContext, job: JobRow, req: JobLandRequest, by: string): Promise<JobLandResult> {
  void ctx;
  void job;
  void req;
  void by;
  throw new ApiError(501, 'landing from the server is not built yet');
}
