import type { Command } from 'commander';
import type { SignInLink } from '../../shared/api.js';
import { printable } from '../../shared/terminal.js';
import { ApiClient } from '../client.js';
import { clientOptions } from '../options.js';

export function registerUi(program: Command): void {
  program.command('ui').action(async (_opts: unknown, cmd: Command) => {
    const link = await new ApiClient(clientOptions(cmd)).request<SignInLink>('POST', '/api/session/links');
    // Only the link on stdout, so `open "$(lazyaf ui)"` works; it is escaped like all server text.
    process.stdout.write(`${printable(link.url)}\n`);
  });
}
