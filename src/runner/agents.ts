import path from 'node:path';
import { BUILTIN_AGENT_NAMES } from '../shared/agents/names.js';
import { scrubbedEnv } from './env.js';
import { isExecutableFile, type Wall } from './sandbox.js';

/**
 * The built-in agents this runner's jobs can run: those with an executable of their name on the
 * PATH a job gets (the runner's, without what npm adds), which the job's wall lets it see and
 * run. Checked by stat and access over the PATH entries, as a shell would look, without one.
 */
export function findAgents(wall?: Pick<Wall, 'canRun'>, pathValue = scrubbedEnv().PATH ?? ''): string[] {
  const dirs = pathValue.split(':').filter((dir) => path.isAbsolute(dir));
  const canRun = wall?.canRun?.bind(wall) ?? isExecutableFile;
  return BUILTIN_AGENT_NAMES.filter((name) => dirs.some((dir) => canRun(path.join(dir, name))));
}
