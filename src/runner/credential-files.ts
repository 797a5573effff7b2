import fs from 'node:fs';
import path from 'node:path';

/**
 * Settings an agent job may get from the server whose value is a file's path. The path is the
 * server's machine's: a runner elsewhere (a container, another machine) may not have that file.
 */
const FILE_SETTINGS = ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'GOOGLE_APPLICATION_CREDENTIALS'];

/**
 * The agent's credentials without a file setting that names no file on this runner: a runner
 * image's NODE_EXTRA_CA_CERTS (its CA bundle, the company proxy's CA included) would be replaced
 * by a path that does not exist there, and every TLS connection of the agent would fail. What is
 * left out is said by name (its value, a credential, is never shown).
 */
export function withoutMissingFiles(env: Readonly<Record<string, string>>, say: (line: string) => void): Record<string, string> {
  const out = { ...env };
  for (const name of FILE_SETTINGS) {
    const value = out[name];
    if (value === undefined || !path.isAbsolute(value) || fs.existsSync(value)) continue;
    delete out[name];
    say(`${name} from the server names a file this runner does not have: left out (the agent keeps the runner's own)`);
  }
  return out;
}
