import path from 'node:path';
import { BUILTIN_AGENT_NAMES } from '../shared/agents/names.js';
import { scrubbedEnv } from './env.js';
import { isExecutableFile, type Wall } from './sandbox.js';

export interface AgentSearch {
  /** The built-in agents a job can run. */
  found: string[];
  /** Each built-in agent left out, and why: said at the runner's start. */
  skipped: { name: string; reason: string }[];
}

/**
 * The built-in agents this runner's jobs can run: those with an executable of their name on the
 * PATH a job gets (the runner's, without what npm adds), which the job's wall lets it see and
 * run. Checked by stat and access over the PATH entries, as a shell would look, without one.
 */
export function searchAgents(wall?: Pick<Wall, 'canRun' | 'whyNotRunnable'>, pathValue = scrubbedEnv().PATH ?? ''): AgentSearch {
  const dirs = pathValue.split(':').filter((dir) => path.isAbsolute(dir));
  const search: AgentSearch = { found: [], skipped: [] };
  for (const name of BUILTIN_AGENT_NAMES) {
    const onPath = dirs.map((dir) => path.join(dir, name)).filter(isExecutableFile);
    if (onPath.length === 0) search.skipped.push({ name, reason: 'not on PATH' });
    else if (!wall?.canRun || onPath.some((file) => wall.canRun!(file))) search.found.push(name);
    else {
      const why = wall.whyNotRunnable?.(onPath[0]!) ?? "the job's wall does not let it run";
      search.skipped.push({ name, reason: `on PATH (${onPath[0]}) but not runnable in the job's wall: ${why}` });
    }
  }
  return search;
}

export function findAgents(wall?: Pick<Wall, 'canRun' | 'whyNotRunnable'>, pathValue?: string): string[] {
  return searchAgents(wall, pathValue).found;
}
