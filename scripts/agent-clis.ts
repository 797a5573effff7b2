// The agent CLIs at the versions pinned in src/shared/agents/versions.ts, each installed once with
// `npm install --prefix` into a cache folder (as a user may install them), for the tests and the
// bench. `node --import tsx scripts/agent-clis.ts` installs them all (.ci/run does, before the tests).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_CLI_VERSIONS, type TestedAgent } from '../src/shared/agents/versions.js';

/** Where the CLIs are kept between runs: LAZYAF_AGENT_CLI_CACHE, else /var/cache when writable, else ~/.cache. */
export function agentCliCache(): string {
  if (process.env.LAZYAF_AGENT_CLI_CACHE) return process.env.LAZYAF_AGENT_CLI_CACHE;
  try {
    fs.mkdirSync('/var/cache/lazyaf-agents', { recursive: true });
    fs.accessSync('/var/cache/lazyaf-agents', fs.constants.W_OK);
    return '/var/cache/lazyaf-agents';
  } catch {
    return path.join(os.homedir(), '.cache', 'lazyaf-agents');
  }
}

/** The folder holding `<bin>` of `agent` at its pinned version (its prefix's node_modules/.bin), installed if missing. */
export function agentCliBinDir(agent: TestedAgent): string {
  const { package: pkg, version } = AGENT_CLI_VERSIONS[agent];
  const prefix = path.join(agentCliCache(), `${agent}-${version}`);
  const binDir = path.join(prefix, 'node_modules', '.bin');
  if (fs.existsSync(path.join(binDir, agent))) return binDir;
  fs.mkdirSync(prefix, { recursive: true });
  // A half-finished install leaves no bin: the next call installs again.
  execFileSync('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--no-save', `${pkg}@${version}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (!fs.existsSync(path.join(binDir, agent))) throw new Error(`npm installed ${pkg}@${version} but ${path.join(binDir, agent)} is missing`);
  return binDir;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const agent of Object.keys(AGENT_CLI_VERSIONS) as TestedAgent[]) {
    const dir = agentCliBinDir(agent);
    const version = execFileSync(path.join(dir, agent), ['--version'], { encoding: 'utf8' }).trim();
    console.log(`${agent}: ${version} (${dir})`);
  }
}
