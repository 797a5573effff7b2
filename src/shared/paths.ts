import os from 'node:os';
import path from 'node:path';

/** The data directory: LAZYAF_DATA or ~/.lazyaf. Shared so the CLI can find a local server's token, and a runner can hide it from its jobs. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.LAZYAF_DATA || path.join(os.homedir(), '.lazyaf'));
}
