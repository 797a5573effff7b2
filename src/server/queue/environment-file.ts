import { parse } from 'yaml';
import { Value } from 'typebox/value';
import { ENVIRONMENT_FILE, MAX_ENVIRONMENT_FILE_BYTES, RepoEnvironment, type ResolvedEnvironment } from '../../shared/environment.js';
import { readFileAt } from '../git/bare.js';

/**
 * The repo's environment from `.lazyaf.yml` at the job's base alone: its checks, env and
 * require_checks, with no setup, cache, secrets or server override. What the checks need to run
 * end to end; the full resolution (override, secrets by name, setup and cache) replaces it.
 * A file that does not parse or validate is one line, never a throw.
 */
export async function environmentFromFile(repoPath: string, branch: string): Promise<{ environment?: ResolvedEnvironment; environment_error?: string }> {
  const text = await readFileAt(repoPath, branch, ENVIRONMENT_FILE, MAX_ENVIRONMENT_FILE_BYTES + 1);
  if (text === undefined) return {};
  if (text.length > MAX_ENVIRONMENT_FILE_BYTES) return { environment_error: `${ENVIRONMENT_FILE}: larger than ${MAX_ENVIRONMENT_FILE_BYTES} bytes` };
  let data: unknown;
  try {
    data = parse(text, { maxAliasCount: 100 });
  } catch (err) {
    return { environment_error: `${ENVIRONMENT_FILE}: ${(err as Error).message.split('\n')[0]!.slice(0, 300)}` };
  }
  if (data === null || data === undefined) return {};
  if (!Value.Check(RepoEnvironment, data)) {
    const first = [...Value.Errors(RepoEnvironment, data)][0];
    const where = first?.instancePath || '(top)';
    return { environment_error: `${ENVIRONMENT_FILE}: ${where}: ${first?.message ?? 'does not match the schema'}`.slice(0, 500) };
  }
  const file = data;
  return {
    environment: {
      setup: [],
      cache: null,
      checks: Object.entries(file.checks ?? {}).map(([name, command]) => ({ name, command })),
      env: file.env ?? {},
      setup_secrets: {},
      job_secrets: {},
      require_checks: file.require_checks ?? false,
      image: null,
      source: 'file',
    },
  };
}
