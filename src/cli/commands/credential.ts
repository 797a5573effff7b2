import type { Command } from 'commander';
import { resolveClient } from '../client.js';

/** Reads git's credential request (key=value lines up to a blank line). */
async function readRequest(): Promise<Map<string, string>> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const fields = new Map<string, string>();
  for (const line of Buffer.concat(chunks).toString('utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return fields;
}

/**
 * `lazyaf credential get|store|erase`: git's credential-helper protocol. `get` answers with the
 * token the CLI would use; `store` and `erase` do nothing, since the token is never written down.
 */
export function registerCredential(program: Command): void {
  program
    .command('credential')
    .argument('<operation>', 'get, store or erase')
    .action(async (operation: string) => {
      const request = await readRequest();
      if (operation !== 'get') return;
      const { token } = resolveClient({});
      if (!token) return;
      // Only ever answer for http(s); git asks per host, and the helper is configured for this server only.
      const protocol = request.get('protocol');
      if (protocol !== 'http' && protocol !== 'https') return;
      process.stdout.write(`username=lazyaf\npassword=${token}\n`);
    });
}
