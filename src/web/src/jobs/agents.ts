import type { RunnerList } from '../../../shared/api.js';
import { SHELL_AGENT } from '../../../shared/job-status.js';
import { api } from '../lib/api.js';

/** The agents a job can ask for: shell, and every agent some registered runner offers. */
export async function offeredAgents(signal?: AbortSignal): Promise<string[]> {
  const list = await api<RunnerList>('GET', '/api/runners?limit=1000', undefined, { signal });
  const named = new Set(list.runners.flatMap((r) => r.agents));
  named.delete(SHELL_AGENT);
  return [SHELL_AGENT, ...[...named].sort()];
}
