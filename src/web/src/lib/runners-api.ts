import type { DockerCommand, PoolState, RunnerList, RunnersStatus } from '../../../shared/api.js';
import { SHELL_AGENT } from '../../../shared/job-status.js';
import { api } from './api.js';

type Signal = AbortSignal | undefined;

/** The newest runners, as many as the API gives at once: enough to name the runners of a job's attempts. */
const RUNNER_LIST = 1000;
/** The runners page shows this many rows at a time: a fleet of thousands is paged, not drawn at once. */
export const RUNNER_PAGE = 100;

/** `/api/runners` and `/api/pool`: the runners, their counts, the pool's size, and the command that adds a runner. */
export const runnersApi = {
  list: (signal?: Signal): Promise<RunnerList> => api('GET', `/api/runners?limit=${RUNNER_LIST}`, undefined, { signal }),
  /** A page of the runners, newest first: the first, or the one after `cursor` (a page's `next`). */
  page: (cursor: string | undefined, signal?: Signal): Promise<RunnerList> =>
    api('GET', `/api/runners?limit=${RUNNER_PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, undefined, { signal }),
  status: (signal?: Signal): Promise<RunnersStatus> => api('GET', '/api/runners/status', undefined, { signal }),
  /** The `docker run` line, with placeholders for the secrets unless `withSecrets`. */
  dockerCommand(options: { labels: string; withSecrets: boolean }, signal?: Signal): Promise<DockerCommand> {
    const query = new URLSearchParams();
    if (options.withSecrets) query.set('with_secrets', 'true');
    if (options.labels) query.set('labels', options.labels);
    const rest = query.toString();
    return api('GET', `/api/runners/docker-command${rest ? `?${rest}` : ''}`, undefined, { signal });
  },
  pool: (signal?: Signal): Promise<PoolState> => api('GET', '/api/pool', undefined, { signal }),
  scale: (desired: number): Promise<PoolState> => api('PUT', '/api/pool', { desired }),
};

/** The agents a job can ask for: shell, and every agent some registered runner offers. */
export async function offeredAgents(signal?: Signal): Promise<string[]> {
  const list = await runnersApi.list(signal);
  const named = new Set(list.runners.flatMap((r) => r.agents));
  named.delete(SHELL_AGENT);
  return [SHELL_AGENT, ...[...named].sort()];
}
