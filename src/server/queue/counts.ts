import type { RunnersStatus } from '../../shared/api.js';
import type { QueueStores } from './core.js';

/** How many runners and jobs are in each state (`GET /api/runners/status`). */
export function queueCounts(store: Pick<QueueStores, 'jobs' | 'runners'>): RunnersStatus {
  const r = store.runners.counts();
  const j = store.jobs.counts();
  return {
    total_runners: r.idle + r.busy + r.draining + r.offline,
    idle_runners: r.idle,
    busy_runners: r.busy,
    draining_runners: r.draining,
    offline_runners: r.offline,
    queued_jobs: j.queued,
    running_jobs: j.running,
  };
}
